"""`slice_metric`: a metric must stay within bounds on every slice."""
from __future__ import annotations

from typing import Literal

from pydantic import ValidationInfo, field_validator, model_validator

from rai_policy.evidence.types import Evidence
from rai_policy.rules.base import Finding, Rule, Status, fmt, numeric, within_max, within_min
from rai_policy.rules.slicing import (SliceRuleSpec, check_bound, left_out, measurements, notes_for, preconditions, row_name,
                                      select)


class SliceMetricSpec(SliceRuleSpec):
    kind: Literal["slice_metric"]
    min: float | None = None
    max: float | None = None
    _bound_numbers = numeric("min", "max")

    @field_validator("min", "max")
    @classmethod
    def _reachable(cls, v, info: ValidationInfo):
        metric = info.data.get("metric")
        if metric is not None:
            check_bound(metric, info.field_name, v)
        return v

    @model_validator(mode="after")
    def _needs_a_bound(self):
        if self.min is None and self.max is None:
            raise ValueError("slice_metric needs `min` and/or `max`")
        if self.min is not None and self.max is not None and self.min > self.max:
            raise ValueError(f"min ({self.min}) is greater than max ({self.max})")
        return self


class SliceMetricRule(Rule):
    """A metric stays within [min, max] on every slice of `slice_by`.

    What it checks: for each group (slice) of the `slice_by` features, the metric computed at
    `decision_threshold` (a prediction is positive when score > threshold) is ≥ `min` and/or ≤ `max`.
    Bounds are inclusive with a 1e-9 tolerance.  The value reported is the worst slice's.  Rates
    (every metric but example_count) live in [0, 1] and example_count is ≥ 0: a bound outside is a
    policy error, as is a quoted number ("0.6").  A group listed twice in `groups` is a policy
    error; a named group with no rows is not_evaluable, with the closest value seen suggested.

    Why it matters: an average can hide a group the model serves badly; a floor per group makes
    sure every group gets a minimum quality of service.

    Example policy:
        - id: recall-floor-by-race
          kind: slice_metric
          metric: recall
          slice_by: [race]
          min: 0.6

    Example finding:
        fail  recall-floor-by-race  recall 0.24812 (Other) < min 0.6; 4 of 6 slices out of bounds:
              Asian=0.555556, Caucasian=0.407867, Hispanic=0.323276, Other=0.24812   (COMPAS)
        pass  when every race has recall ≥ 0.6.

    Options: metric, slice_by, groups (values to keep), min, max, decision_threshold (0.5),
        min_slice_size (1), on_undefined (not_evaluable | skip), on_missing (error | exclude),
        class (multiclass subjects: the class judged one-vs-rest, by name or id).
    """

    kind = "slice_metric"
    code = "RAI-SLICE-001"
    name = "fairness.slice_metric"
    Spec = SliceMetricSpec

    def requests(self):
        return [self.spec.slice_request()]

    def evaluate(self, evidence: Evidence) -> Finding:
        spec = self.spec
        result = evidence.get(spec.slice_request())
        if (bad := self.unavailable(result)) is not None:
            return bad
        sel = select(spec, result)
        bound = {k: v for k, v in (("min", spec.min), ("max", spec.max)) if v is not None}
        meas = measurements(spec, result)
        notes = notes_for(spec, sel)
        if (pre := preconditions(spec, result, sel)) is not None:
            return Finding(pre[0], pre[1], None, bound, meas, notes=notes)
        cls = spec.class_label()
        if not sel.judged:
            return Finding(Status.NOT_EVALUABLE, f"{cls}no slice left to judge", None, bound, meas, notes=notes)

        def badness(row):
            v = row.metrics[spec.metric]
            return max((spec.min - v) if spec.min is not None else float("-inf"),
                       (v - spec.max) if spec.max is not None else float("-inf"))

        worst = max(sel.judged, key=badness)
        v = worst.metrics[spec.metric]
        failing = [r for r in sel.judged
                   if (spec.min is not None and not within_min(r.metrics[spec.metric], spec.min))
                   or (spec.max is not None and not within_max(r.metrics[spec.metric], spec.max))]
        where = row_name(worst)
        if failing:
            side = f"< min {fmt(spec.min)}" if spec.min is not None and not within_min(v, spec.min) else f"> max {fmt(spec.max)}"
            listed = ", ".join(f"{row_name(r)}={fmt(r.metrics[spec.metric])}" for r in failing[:20])
            msg = (f"{cls}{spec.metric} {fmt(v)} ({where}) {side}; {len(failing)} of {len(sel.judged)} slices out of bounds: "
                   + listed + (f", … ({len(failing) - 20} more)" if len(failing) > 20 else ""))
            status = Status.FAIL
        else:
            msg = f"{cls}{spec.metric} within bounds on all {len(sel.judged)} slices (worst {where}: {fmt(v)})"
            status = Status.PASS
        return Finding(status, msg + left_out(spec, sel), v, bound, meas, dict(worst.slice), notes)
