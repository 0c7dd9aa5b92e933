"""`slice_gap`: the spread of a metric across groups stays small."""
from __future__ import annotations

from typing import Literal

from pydantic import Field, ValidationInfo, field_validator, model_validator

from rai_policy.evidence.types import Evidence
from rai_policy.rules.base import Finding, Rule, Status, fmt, numeric, within_max, within_min
from rai_policy.rules.slicing import (SliceRuleSpec, check_bound, left_out, measurements, notes_for, preconditions,
                                      row_name, select)


class SliceGapSpec(SliceRuleSpec):
    kind: Literal["slice_gap"]
    max_gap: float | None = Field(None, ge=0)
    min_ratio: float | None = Field(None, ge=0, le=1)
    _bound_numbers = numeric("max_gap", "min_ratio")

    @field_validator("max_gap")
    @classmethod
    def _reachable(cls, v, info: ValidationInfo):
        metric = info.data.get("metric")
        if metric is not None:
            check_bound(metric, "max_gap", v)  # the gap of two rates is at most 1
        return v

    @field_validator("groups")
    @classmethod
    def _two_groups(cls, v):
        if v is not None and len(v) < 2:
            raise ValueError(f"`groups` names {len(v)} group(s); a gap compares at least 2")
        return v

    @model_validator(mode="after")
    def _needs_a_bound(self):
        if self.max_gap is None and self.min_ratio is None:
            raise ValueError("slice_gap needs `max_gap` and/or `min_ratio`")
        return self


class SliceGapRule(Rule):
    """The gap (max − min) or ratio (min / max) of a metric across groups stays within bounds.

    What it checks: the metric per group of `slice_by` (optionally only the `groups` listed); the
    gap max − min must be ≤ `max_gap` and the ratio min / max ≥ `min_ratio` (0.8 is the
    four-fifths rule).  Inclusive, 1e-9 tolerance: 0.8 − 0.7 against max_gap 0.1 passes.  The
    reported value is the gap when `max_gap` is set, else the ratio.  `groups` must name at
    least 2 distinct groups (a group listed twice is a policy error, not a gap of 0); a named
    group with no rows is not_evaluable, with the closest value seen suggested ("did you mean
    'Caucasian'?").  For a rate metric `max_gap` above 1 is a policy error (always met).  A group
    whose metric is undefined says why ("0 positive labels"; with example weights "total weight 0
    on its positive labels" or "weight 0 on all N rows").

    Why it matters: equalised odds and disparate impact are statements about differences between
    groups; a model can meet a floor everywhere and still treat groups very differently.

    Example policy:
        - id: fpr-gap-race
          kind: slice_gap
          metric: false_positive_rate
          slice_by: [race]
          groups: [African-American, Caucasian]
          max_gap: 0.05
          decision_threshold: 0.45

    Example finding:
        fail  fpr-gap-race  false_positive_rate: gap 0.213925 > max_gap 0.05 (African-American 0.448468 vs Caucasian 0.234543)
        not_evaluable  with groups: [African-American, Caucasion]: group(s) Caucasion (did you mean
              'Caucasian'?) have no rows in the data
        pass  when the two false positive rates are within 0.05.

    Options: metric, slice_by, groups, max_gap, min_ratio, decision_threshold (0.5),
        min_slice_size (1), on_undefined (not_evaluable | skip), on_missing (error | exclude),
        class (multiclass subjects: the class judged one-vs-rest, by name or id).
    """

    kind = "slice_gap"
    code = "RAI-SLICE-002"
    name = "fairness.slice_gap"
    Spec = SliceGapSpec

    def requests(self):
        return [self.spec.slice_request()]

    def evaluate(self, evidence: Evidence) -> Finding:
        spec = self.spec
        result = evidence.get(spec.slice_request())
        if (bad := self.unavailable(result)) is not None:
            return bad
        sel = select(spec, result)
        bound = {k: v for k, v in (("max_gap", spec.max_gap), ("min_ratio", spec.min_ratio)) if v is not None}
        meas = measurements(spec, result)
        notes = notes_for(spec, sel)
        if (pre := preconditions(spec, result, sel)) is not None:
            return Finding(pre[0], pre[1], None, bound, meas, notes=notes)
        cls = spec.class_label()
        if len(sel.judged) < 2:
            return Finding(Status.NOT_EVALUABLE, f"{cls}a gap needs at least 2 groups with a defined {spec.metric}; "
                           f"found {len(sel.judged)}" + (f" ({row_name(sel.judged[0])})" if sel.judged else ""),
                           None, bound, meas, notes=notes)
        ordered = sorted(sel.judged, key=lambda r: r.metrics[spec.metric])  # stable: ties keep slice order
        lo, hi = ordered[0], ordered[-1]  # two different groups even when every value is equal
        vlo, vhi = lo.metrics[spec.metric], hi.metrics[spec.metric]
        gap = vhi - vlo
        ratio = (vlo / vhi) if vhi > 0 else None
        between = f"{row_name(hi)} {fmt(vhi)} vs {row_name(lo)} {fmt(vlo)}"
        problems = []
        if spec.max_gap is not None and not within_max(gap, spec.max_gap):
            problems.append(f"gap {fmt(gap)} > max_gap {fmt(spec.max_gap)}")
        if spec.min_ratio is not None:
            if ratio is None:
                return Finding(Status.NOT_EVALUABLE, f"{cls}ratio undefined: {spec.metric} is 0 in every group",
                               None, bound, meas, dict(hi.slice), notes)
            if not within_min(ratio, spec.min_ratio):
                problems.append(f"ratio {fmt(ratio)} < min_ratio {fmt(spec.min_ratio)}")
        value = gap if spec.max_gap is not None else ratio
        summary = f"gap {fmt(gap)}" + (f", ratio {fmt(ratio)}" if ratio is not None else "")
        if problems:
            return Finding(Status.FAIL, f"{cls}{spec.metric}: {'; '.join(problems)} ({between}){left_out(spec, sel)}",
                           value, bound, meas,
                           dict(lo.slice) if spec.metric not in ("false_positive_rate", "false_negative_rate") else dict(hi.slice),
                           notes)
        return Finding(Status.PASS, f"{cls}{spec.metric}: {summary} within bounds ({between}){left_out(spec, sel)}",
                       value, bound, meas,
                       None, notes)
