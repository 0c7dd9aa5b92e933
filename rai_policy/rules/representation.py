"""`representation`: every group is a large enough share of the evaluation data."""
from __future__ import annotations

from fractions import Fraction
from typing import Literal, Union

from pydantic import Field, ValidationInfo, field_validator

from rai_policy.evidence.types import Evidence, FeatureStatsRequest
from rai_policy.rules.base import Finding, Measurement, Rule, RuleSpec, Status, fmt, number_not_text, numeric, within_min
from rai_policy.rules.slicing import close_match, group_value, repeated

MAX_LISTED = 20


class RepresentationSpec(RuleSpec):
    kind: Literal["representation"]
    feature: str = Field(min_length=1)
    min_share: float | dict[str, float] = Field(...)
    groups: list[Union[str, int, float, bool]] | None = Field(None, min_length=1, description=(
        "the groups expected in the data, each judged against the numeric `min_share` (absent = share 0)"))
    min_count: int | None = Field(None, ge=0)
    on_missing: Literal["error", "exclude"] = "error"
    _bound_numbers = numeric("min_count")

    @field_validator("min_share", mode="before")
    @classmethod
    def _share_numbers(cls, v):
        if isinstance(v, dict):
            return {k: number_not_text(x) for k, x in v.items()}
        return number_not_text(v)

    @field_validator("min_share")
    @classmethod
    def _share_range(cls, v):
        if isinstance(v, dict) and not v:
            raise ValueError("a map of floors names no group; give a share per expected group, e.g. {Female: 0.3}")
        values = v.values() if isinstance(v, dict) else [v]
        for x in values:
            if not 0 <= x <= 1:
                raise ValueError(f"a share must be between 0 and 1, got {x}")
        if isinstance(v, dict) and (problem := repeated([group_value(k) for k in v], "min_share")):
            raise ValueError(problem)
        return v

    @field_validator("groups")
    @classmethod
    def _groups(cls, v, info: ValidationInfo):
        if v is None:
            return v
        if isinstance(info.data.get("min_share"), dict):
            raise ValueError("`min_share` is a map, which already names the groups; drop `groups`, or give "
                             "`min_share` as one number for every group listed")
        if problem := repeated([group_value(g) for g in v], "groups"):
            raise ValueError(problem)
        return v

    def floors(self, seen) -> dict[str, float]:
        """Group → floor: the map's groups, the `groups` listed, or (one number) every value seen."""
        if isinstance(self.min_share, dict):
            return {group_value(k): v for k, v in self.min_share.items()}
        if self.groups is not None:
            return {group_value(g): self.min_share for g in self.groups}
        return {g: self.min_share for g in seen}


class RepresentationRule(Rule):
    """Each group of a feature makes up at least a minimum share (and count) of the data.

    What it checks: TFDV statistics of `feature`; for each group judged, count / all rows ≥
    `min_share` and count ≥ `min_count`.  The groups judged are the keys of a `min_share` map, or
    the `groups` listed, or (one number, no `groups`) every value seen.  A named group absent from
    the data counts 0 and fails, with the closest value seen suggested for a misspelling ("did you
    mean 'Female'?"); values seen but not named are listed and not judged.  With one number and no
    `groups`, an absent group cannot be told apart from a feature that has one value, so fewer than
    2 values seen is not_evaluable.  The denominator is every row, including rows where the
    feature is missing; with the default `on_missing: error` any missing value is an error that
    states the count.  Shares are compared inclusively with a 1e-9 tolerance and reported as
    numerator/denominator (200/1000 passes a 0.2 floor, 199/1000 fails).

    Why it matters: metrics on a group that is barely present are noise, and a model trained or
    validated on data without a group has not been shown to work for it.

    Example policy:
        - id: sex-representation
          kind: representation
          feature: sex
          min_share: 0.3
          groups: [Female, Male]

    Example finding:
        fail  sex-representation  share below floor: sex=Female 1395/7214 = 0.193374 < 0.3
        not_evaluable  when every row has sex=Male and `groups` is not given: only one group seen.
        pass  on UCI Adult: Female 10771/32561 = 0.330795.

    Options: feature, min_share (a number for every group, or a map group → share), groups
        (the expected groups, judged against the number, absent ones included), min_count,
        on_missing (error | exclude).
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
        floors = spec.floors(stats.counts)
        counts = {g: stats.counts.get(g, 0) for g in sorted(set(stats.counts) | set(floors))}
        meas = tuple(Measurement("share", float(Fraction(c, stats.total)), {spec.feature: g}, c,
                                 {"numerator": c, "denominator": stats.total, "tool": stats.tool}
                                 | ({} if g in floors else {"excluded": "not a named group"}))
                     for g, c in counts.items())
        notes = (f"{stats.missing} of {stats.total} rows have no value (counted in the denominator)",) if stats.missing else ()
        unnamed = [g for g in sorted(stats.counts) if g not in floors]
        if unnamed:
            notes += ("values seen but not named (not judged): " + ", ".join(
                f"{g} {stats.counts[g]}/{stats.total}" for g in unnamed[:MAX_LISTED])
                + (f", … ({len(unnamed) - MAX_LISTED} more)" if len(unnamed) > MAX_LISTED else ""),)
        if len(floors) < 2 and not isinstance(spec.min_share, dict) and spec.groups is None:
            return Finding(Status.NOT_EVALUABLE, self._one_group(stats), None, bound, meas, None, notes)
        failing = []
        for g, floor in floors.items():
            c = counts[g]
            share = c / stats.total
            if not within_min(share, floor) or (spec.min_count is not None and c < spec.min_count):
                failing.append((g, c, share, floor))
        judged = {g: counts[g] / stats.total for g in floors}
        worst_g = min(judged, key=lambda g: judged[g] - floors[g])
        worst = judged[worst_g]
        if failing:
            parts = "; ".join((f"{spec.feature}={g} {c}/{stats.total} = {fmt(s)} < {fmt(f)}"
                               if not within_min(s, f) else f"{spec.feature}={g} count {c} < min_count {spec.min_count}")
                              + self._did_you_mean(g, stats.counts, floors)
                              for g, c, s, f in failing)
            return Finding(Status.FAIL, f"share below floor: {parts}", worst, bound, meas, {spec.feature: worst_g}, notes)
        c = counts[worst_g]
        return Finding(Status.PASS, f"every group meets its floor (smallest: {spec.feature}={worst_g} "
                       f"{c}/{stats.total} = {fmt(worst)})", worst, bound, meas, None, notes)

    def _one_group(self, stats) -> str:
        """Why one number cannot judge a feature with fewer than 2 values seen."""
        spec = self.spec
        floor = fmt(spec.min_share)
        if not stats.counts:
            return (f"no {spec.feature} value seen in {stats.total} rows; name the expected groups to judge them "
                    f"as absent, e.g. `groups: [A, B]` with `min_share: {floor}`")
        (g, c), = stats.counts.items()
        return (f"only one group seen ({spec.feature}={g} {c}/{stats.total}); name the expected groups to judge "
                f"absent ones: `groups: [{g}, …]`, or a map, e.g. `min_share: {{{g}: {floor}, …: {floor}}}`")

    @staticmethod
    def _did_you_mean(group: str, seen, floors) -> str:
        """' (did you mean 'Female'?)' for a named group absent from the data."""
        if seen.get(group, 0):
            return ""
        near = close_match(group, [g for g in seen if g not in floors])
        return f" (did you mean '{near}'?)" if near else " (absent from the data)"
