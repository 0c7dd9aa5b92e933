"""What the slice rule kinds share: their common keys, and picking the slices a rule judges."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Literal, Union

from pydantic import Field, field_validator, model_validator

from rai_policy.evidence.types import METRICS, SliceMetricsRequest, SliceMetricsResult, SliceRow
from rai_policy.rules.base import Measurement, RuleSpec

MetricName = Literal[tuple(METRICS)]  # type: ignore[valid-type]


def group_value(value) -> str:
    """A group named in a policy, spelled as the data layer spells slice values."""
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


class SliceRuleSpec(RuleSpec):
    """Keys shared by the slice rule kinds."""

    metric: MetricName
    slice_by: list[str] = Field(min_length=1, max_length=4)
    groups: list[Union[str, int, float, bool, list[Union[str, int, float, bool]]]] | None = None
    decision_threshold: float = Field(0.5, ge=0.0, le=1.0)
    min_slice_size: int = Field(1, ge=1)
    on_undefined: Literal["not_evaluable", "skip"] = "not_evaluable"
    on_missing: Literal["error", "exclude"] = "error"

    @field_validator("slice_by")
    @classmethod
    def _unique_features(cls, v: list[str]) -> list[str]:
        if len(set(v)) != len(v):
            raise ValueError("slice_by lists a feature twice")
        return v

    @model_validator(mode="after")
    def _groups_match_features(self):
        for g in self.groups or []:
            width = len(g) if isinstance(g, list) else 1
            if width != len(self.slice_by):
                raise ValueError(
                    f"group {g!r} names {width} value(s) but slice_by has {len(self.slice_by)} feature(s); "
                    "for an intersection write each group as a list, e.g. [African-American, Female]"
                )
        return self

    def slice_request(self) -> SliceMetricsRequest:
        return SliceMetricsRequest(tuple(self.slice_by), float(self.decision_threshold), frozenset([self.metric]))

    def wanted_groups(self) -> list[tuple[str, ...]] | None:
        if self.groups is None:
            return None
        return [tuple(group_value(x) for x in (g if isinstance(g, list) else [g])) for g in self.groups]


UNDEFINED_REASONS = {
    "recall": lambda r: "0 positive labels" if r.tp + r.fn == 0 else None,
    "false_negative_rate": lambda r: "0 positive labels" if r.tp + r.fn == 0 else None,
    "false_positive_rate": lambda r: "0 negative labels" if r.fp + r.tn == 0 else None,
    "precision": lambda r: "0 predicted positives" if r.tp + r.fp == 0 else None,
    "auc": lambda r: "only one label class present" if (r.tp + r.fn == 0 or r.fp + r.tn == 0) else None,
    "accuracy": lambda r: "empty slice" if r.weighted_count == 0 else None,
    "selection_rate": lambda r: "empty slice" if r.weighted_count == 0 else None,
    "example_count": lambda r: None,
}


def undefined_reason(metric: str, row: SliceRow) -> str:
    reason = UNDEFINED_REASONS[metric](row)
    return reason or f"{metric} undefined"


@dataclass(frozen=True)
class Selection:
    """The slices a rule judges, and what was left out and why."""

    judged: list[SliceRow]
    undefined: list[tuple[SliceRow, str]]
    too_small: list[SliceRow]
    absent: list[tuple[str, ...]]
    missing: int
    total: int


def select(spec: SliceRuleSpec, result: SliceMetricsResult) -> Selection:
    wanted = spec.wanted_groups()
    by_values = {tuple(v for _, v in row.slice): row for row in result.rows}
    if wanted is None:
        rows = list(result.rows)
        absent: list[tuple[str, ...]] = []
    else:
        rows = [by_values[g] for g in wanted if g in by_values]
        absent = [g for g in wanted if g not in by_values]
    judged, undefined, small = [], [], []
    for row in rows:
        if row.example_count < spec.min_slice_size:
            small.append(row)
        elif row.metrics.get(spec.metric) is None:
            undefined.append((row, undefined_reason(spec.metric, row)))
        else:
            judged.append(row)
    return Selection(judged, undefined, small, absent, result.missing, result.total)


def measurements(spec: SliceRuleSpec, result: SliceMetricsResult) -> tuple[Measurement, ...]:
    """Every slice's value with its confusion counts, sorted by slice."""
    out = []
    for row in result.rows:
        value = row.metrics.get(spec.metric)
        extra = {"threshold": row.threshold, "tp": row.tp, "fp": row.fp, "tn": row.tn, "fn": row.fn,
                 "engine": result.engine}
        if value is None:
            extra["undefined_reason"] = undefined_reason(spec.metric, row)
        if row.example_count < spec.min_slice_size:
            extra["excluded"] = f"fewer than min_slice_size={spec.min_slice_size} rows"
        out.append(Measurement(spec.metric, value, dict(row.slice), row.example_count, extra))
    return tuple(out)


def names(groups) -> str:
    return ", ".join(" & ".join(g) for g in groups)


def row_name(row: SliceRow) -> str:
    return " & ".join(v for _, v in row.slice) or "overall"


def preconditions(spec: SliceRuleSpec, result: SliceMetricsResult, sel: Selection):
    """Reasons this rule cannot be judged yet (status, message) or None."""
    from rai_policy.rules.base import Status

    feats = ", ".join(spec.slice_by)
    if sel.missing and spec.on_missing == "error":
        return (Status.ERROR, f"{feats}: {sel.missing} of {sel.total} rows have no value; "
                "set `on_missing: exclude` to judge the other rows")
    if sel.absent:
        return (Status.NOT_EVALUABLE, f"group(s) {names(sel.absent)} have no rows in the data")
    if sel.undefined and spec.on_undefined == "not_evaluable":
        parts = "; ".join(f"group {row_name(r)} has {why}, {spec.metric} undefined" for r, why in sel.undefined)
        return (Status.NOT_EVALUABLE, parts + " (set `on_undefined: skip` to judge the other groups)")
    return None


def notes_for(spec: SliceRuleSpec, sel: Selection) -> tuple[str, ...]:
    notes = []
    if sel.undefined:
        notes.append("skipped (undefined): " + "; ".join(f"{row_name(r)} ({why})" for r, why in sel.undefined))
    if sel.too_small:
        notes.append(f"{len(sel.too_small)} slice(s) below min_slice_size={spec.min_slice_size} not judged: "
                     + ", ".join(row_name(r) for r in sel.too_small))
    if sel.missing:
        notes.append(f"{sel.missing} of {sel.total} rows have no value for {', '.join(spec.slice_by)} and were excluded")
    return tuple(notes)
