"""`representation`: every group is a large enough share of the evaluation data."""
from __future__ import annotations

from fractions import Fraction
from typing import Literal

from pydantic import Field, field_validator

from rai_policy.evidence.types import Evidence, FeatureStatsRequest
from rai_policy.rules.base import Finding, Measurement, Rule, RuleSpec, Status, fmt, within_min
from rai_policy.rules.slicing import group_value


class RepresentationSpec(RuleSpec):
    kind: Literal["representation"]
    feature: str = Field(min_length=1)
    min_share: float | dict[str, float] = Field(...)
    min_count: int | None = Field(None, ge=0)
    on_missing: Literal["error", "exclude"] = "error"

    @field_validator("min_share")
    @classmethod
    def _share_range(cls, v):
        values = v.values() if isinstance(v, dict) else [v]
        for x in values:
            if not 0 <= x <= 1:
                raise ValueError(f"a share must be between 0 and 1, got {x}")
        return v


class RepresentationRule(Rule):
    """Each group of a feature makes up at least a minimum share (and count) of the data.

    What it checks: TFDV statistics of `feature`; for every value seen (or, with a map, every
    value named) count / all rows ≥ `min_share` and count ≥ `min_count`.  The denominator is every
    row, including rows where the feature is missing; with the default `on_missing: error` any
    missing value is an error that states the count.  Shares are compared inclusively with a 1e-9
    tolerance and reported as numerator/denominator (200/1000 passes a 0.2 floor, 199/1000 fails).

    Why it matters: metrics on a group that is barely present are noise, and a model trained or
    validated on data without a group has not been shown to work for it.

    Example policy:
        - id: sex-representation
          kind: representation
          feature: sex
          min_share: 0.3

    Example finding:
        fail  sex-representation  share 0.193374 (sex=Female, 1395/7214) < min_share 0.3
        pass  on UCI Adult: Female 10771/32561 = 0.330795.

    Options: feature, min_share (a number for every group, or a map group → share),
        min_count, on_missing (error | exclude).
    """

    kind = "representation"
    code = "RAI-DATA-001"
    name = "data.representation"
    Spec = RepresentationSpec

    def requests(self):
        return [FeatureStatsRequest(self.spec.feature)]

    def evaluate(self, evidence: Evidence) -> Finding:
        spec = self.spec
        stats = evidence.get(FeatureStatsRequest(spec.feature))
        if (bad := self.unavailable(stats)) is not None:
            return bad
        bound = {"min_share": spec.min_share} | ({"min_count": spec.min_count} if spec.min_count is not None else {})
        if stats.missing and spec.on_missing == "error":
            return Finding(Status.ERROR, f"{spec.feature}: {stats.missing} of {stats.total} rows have no value; "
                           "set `on_missing: exclude` to count them as no group", None, bound)
        if stats.total == 0:
            return Finding(Status.NOT_EVALUABLE, "the data has no rows", None, bound)
        if isinstance(spec.min_share, dict):
            floors = {group_value(k): v for k, v in spec.min_share.items()}
        else:
            floors = {g: spec.min_share for g in stats.counts}
        counts = {g: stats.counts.get(g, 0) for g in sorted(set(stats.counts) | set(floors))}
        meas = tuple(Measurement("share", float(Fraction(c, stats.total)), {spec.feature: g}, c,
                                 {"numerator": c, "denominator": stats.total, "tool": stats.tool})
                     for g, c in counts.items())
        failing = []
        for g, floor in floors.items():
            c = counts[g]
            share = c / stats.total
            if not within_min(share, floor) or (spec.min_count is not None and c < spec.min_count):
                failing.append((g, c, share, floor))
        judged = {g: counts[g] / stats.total for g in floors}
        worst_g = min(judged, key=lambda g: judged[g] - floors[g])
        worst = judged[worst_g]
        notes = (f"{stats.missing} of {stats.total} rows have no value (counted in the denominator)",) if stats.missing else ()
        if failing:
            parts = "; ".join(f"{spec.feature}={g} {c}/{stats.total} = {fmt(s)} < {fmt(f)}"
                              if not within_min(s, f) else f"{spec.feature}={g} count {c} < min_count {spec.min_count}"
                              for g, c, s, f in failing)
            return Finding(Status.FAIL, f"share below floor: {parts}", worst, bound, meas, {spec.feature: worst_g}, notes)
        c = counts[worst_g]
        return Finding(Status.PASS, f"every group meets its floor (smallest: {spec.feature}={worst_g} "
                       f"{c}/{stats.total} = {fmt(worst)})", worst, bound, meas, None, notes)
