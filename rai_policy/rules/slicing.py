"""What the slice rule kinds share: their common keys, and picking the slices a rule judges."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Literal, Union

from pydantic import Field, PrivateAttr, field_validator, model_validator

from rai_policy.evidence.types import METRICS, SliceMetricsRequest, SliceMetricsResult, SliceRow, slice_label
from rai_policy.rules.base import Measurement, RuleSpec, numeric

MetricName = Literal[tuple(METRICS)]  # type: ignore[valid-type]
RATE_METRICS = tuple(m for m in METRICS if m != "example_count")  # values in [0, 1]


def group_value(value) -> str:
    """A group named in a policy, spelled as the data layer spells slice values."""
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def close_match(value: str, candidates) -> str | None:
    """The candidate closest to a misspelt `value` (difflib), or None."""
    import difflib

    near = difflib.get_close_matches(value, sorted(set(candidates)), n=1, cutoff=0.6)
    return near[0] if near else None


def repeated(values: list, what: str) -> str | None:
    """'groups[0] and groups[1] both name 'X'' for the first value listed twice, else None."""
    first: dict = {}
    for i, v in enumerate(values):
        if v in first:
            shown = " & ".join(v) if isinstance(v, tuple) else v
            return f"{what}[{first[v]}] and {what}[{i}] both name '{shown}'; list each group once"
        first[v] = i
    return None


def check_bound(metric: str, key: str, value: float | None) -> None:
    """Raise for a bound `key` (min, max, max_gap) the metric can never cross: rate metrics (and
    their gaps) live in [0, 1], example_count is a number of rows (≥ 0)."""
    if value is None:
        return
    if metric in RATE_METRICS and not 0 <= value <= 1:
        never = value > 1 if key.startswith("min") else value < 0
        raise ValueError(f"{key} {value:g} is outside [0, 1], where {metric} lives: "
                         f"it is {'never' if never else 'always'} met")
    if metric == "example_count" and value < 0:
        raise ValueError(f"{key} {value:g} is negative; example_count is a number of rows (≥ 0)")


class SliceRuleSpec(RuleSpec):
    """Keys shared by the slice rule kinds."""

    metric: MetricName
    slice_by: list[str] = Field(min_length=1, max_length=4)
    groups: list[Union[str, int, float, bool, list[Union[str, int, float, bool]]]] | None = None
    decision_threshold: float = Field(0.5, ge=0.0, le=1.0)
    min_slice_size: int = Field(1, ge=1)
    on_undefined: Literal["not_evaluable", "skip"] = "not_evaluable"
    on_missing: Literal["error", "exclude"] = "error"
    class_: Union[str, int, None] = Field(None, alias="class", description=(
        "multiclass subjects: the class judged one-vs-rest, by name or id from `subject.classes`"))
    _class: tuple[int, str] | None = PrivateAttr(None)  # (id, name), bound by the loader
    _slice_numbers = numeric("decision_threshold", "min_slice_size")

    @field_validator("class_", mode="before")
    @classmethod
    def _class_scalar(cls, v):
        if isinstance(v, bool) or isinstance(v, float):
            raise ValueError("a class is a name from `subject.classes` or its integer id")
        if isinstance(v, int) and v < 0:
            raise ValueError("a class id is its position in `subject.classes` (0, 1, …)")
        return v

    def bind_class(self, classes) -> str | None:
        """Resolve `class` against the class vocabulary; return a problem message, or None."""
        if self.class_ is None:
            return None
        names = list(classes or ())
        valid = ", ".join(f"{n} (id {i})" for i, n in enumerate(names))
        if not names:
            return "`class` needs the class vocabulary: add `classes: [...]` to `subject:`"
        if str(self.class_) in names:
            k = names.index(str(self.class_))
        elif str(self.class_).isdigit() and int(self.class_) < len(names):  # an id (names win, above)
            k = int(self.class_)
        else:
            import difflib

            near = difflib.get_close_matches(str(self.class_), names, n=1, cutoff=0.5)
            hint = f"; did you mean '{near[0]}'?" if near else ""
            what = (f"class id {self.class_} is out of range" if str(self.class_).isdigit()
                    else f"unknown class '{self.class_}'")
            return f"{what}{hint}; classes: {valid}"
        self._class = (k, names[k])
        return None

    @property
    def class_ref(self) -> tuple[int, str] | None:
        """(id, name) of the class judged, or None for a binary subject."""
        if self.class_ is None:
            return None
        if self._class is not None:
            return self._class
        if isinstance(self.class_, int):  # no vocabulary bound (rule built outside the loader)
            return (self.class_, str(self.class_))
        raise ValueError(f"class '{self.class_}' is not bound to a class vocabulary (load the policy with its subject)")

    @field_validator("slice_by")
    @classmethod
    def _unique_features(cls, v: list[str]) -> list[str]:
        if len(set(v)) != len(v):
            raise ValueError("slice_by lists a feature twice")
        return v

    @field_validator("groups")
    @classmethod
    def _distinct_groups(cls, v):
        if v is not None:  # compared as the data spells them: 1 and 1.0 are the same group
            problem = repeated([tuple(group_value(x) for x in g) if isinstance(g, list) else group_value(g)
                                for g in v], "groups")
            if problem:
                raise ValueError(problem)
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
        ref = self.class_ref
        return SliceMetricsRequest(tuple(self.slice_by), float(self.decision_threshold), frozenset([self.metric]),
                                   positive_class=None if ref is None else ref[0])

    def class_label(self) -> str:
        """'class approved (id 0): ' for a multiclass rule, '' otherwise."""
        ref = self.class_ref
        return "" if ref is None else f"class {ref[1]} (id {ref[0]}): "

    def wanted_groups(self) -> list[tuple[str, ...]] | None:
        if self.groups is None:
            return None
        return [tuple(group_value(x) for x in (g if isinstance(g, list) else [g])) for g in self.groups]


def _denominator(r: SliceRow, what: str, weight: float) -> str | None:
    """Why a ratio over `what` (e.g. 'positive labels', total weight `weight`) is undefined on row
    `r`, or None when it is defined.

    The confusion counts are weighted and a row carries no unweighted label counts, so a zero
    denominator reads "0 {what}" only when the weights are indistinguishable from none
    (weighted_count == example_count); otherwise it states what holds either way: "total weight 0
    on its {what}" (there are none, or all weigh 0).  Phrased to follow "group C has …"."""
    if weight > 0:
        return None
    if r.example_count and r.weighted_count == 0:
        return f"weight 0 on all {r.example_count} rows"
    if r.weighted_count != r.example_count:
        return f"total weight 0 on its {what}"
    return f"0 {what}"


def _empty(r: SliceRow) -> str | None:
    if r.weighted_count != 0:
        return None
    return f"weight 0 on all {r.example_count} rows" if r.example_count else "empty slice"


def _one_class(r: SliceRow) -> str | None:
    for what, weight in (("positive labels", r.tp + r.fn), ("negative labels", r.fp + r.tn)):
        if (why := _denominator(r, what, weight)) is not None:
            if why.startswith("total weight 0"):
                return f"{why} (AUC needs both label classes)"
            return "only one label class present" if why == f"0 {what}" else why
    return None


UNDEFINED_REASONS = {
    "recall": lambda r: _denominator(r, "positive labels", r.tp + r.fn),
    "false_negative_rate": lambda r: _denominator(r, "positive labels", r.tp + r.fn),
    "false_positive_rate": lambda r: _denominator(r, "negative labels", r.fp + r.tn),
    "precision": lambda r: _denominator(r, "predicted positives", r.tp + r.fp),
    "auc": _one_class,
    "accuracy": _empty,
    "selection_rate": _empty,
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
    evaluated: int = 0  # slices the engine returned
    in_groups: int = 0  # rows in some slice (sum of example counts)
    duplicates: dict | None = None  # slice values → exact-duplicate rows in that slice
    not_computed: list | None = None  # rows lacking the metric (an engine or wiring bug, B07)


MAX_LISTED = 20


def _duplicates(result: SliceMetricsResult) -> dict:
    out = {}
    for key, n in getattr(result, "duplicate_rows", ()) or ():
        out[tuple(v for _, v in key)] = int(n)
    return out


def select(spec: SliceRuleSpec, result: SliceMetricsResult) -> Selection:
    wanted = spec.wanted_groups()
    by_values = {tuple(v for _, v in row.slice): row for row in result.rows}
    if wanted is None:
        rows = list(result.rows)
        absent: list[tuple[str, ...]] = []
    else:
        rows = [by_values[g] for g in wanted if g in by_values]
        absent = [g for g in wanted if g not in by_values]
    judged, undefined, small, not_computed = [], [], [], []
    for row in rows:
        if spec.metric not in row.metrics:
            not_computed.append(row)
        elif row.example_count < spec.min_slice_size:
            small.append(row)
        elif row.metrics.get(spec.metric) is None:
            undefined.append((row, undefined_reason(spec.metric, row)))
        else:
            judged.append(row)
    in_groups = sum(r.example_count for r in result.rows)
    return Selection(judged, undefined, small, absent, result.missing, result.total, len(result.rows), in_groups,
                     _duplicates(result), not_computed)


def measurements(spec: SliceRuleSpec, result: SliceMetricsResult) -> tuple[Measurement, ...]:
    """Every slice's value with its confusion counts, sorted by slice."""
    out = []
    ref = spec.class_ref
    dups = _duplicates(result)
    wanted = spec.wanted_groups()
    for row in result.rows:
        value = row.metrics.get(spec.metric)
        extra = {"threshold": row.threshold, "tp": row.tp, "fp": row.fp, "tn": row.tn, "fn": row.fn,
                 "engine": result.engine}
        if ref is not None:
            extra["class"], extra["class_id"] = ref[1], ref[0]
        if value is None:
            extra["undefined_reason"] = undefined_reason(spec.metric, row) if spec.metric in row.metrics \
                else "not computed"
        if wanted is not None and tuple(v for _, v in row.slice) not in wanted:
            extra["excluded"] = "not in `groups`"
        elif row.example_count < spec.min_slice_size:
            extra["excluded"] = f"fewer than min_slice_size={spec.min_slice_size} rows"
        extra["judged"] = value is not None and "excluded" not in extra
        if dups.get(tuple(v for _, v in row.slice)):
            extra["duplicate_rows"] = dups[tuple(v for _, v in row.slice)]
        out.append(Measurement(spec.metric, value, dict(row.slice), row.example_count, extra))
    return tuple(out)


def row_name(row: SliceRow) -> str:
    return " & ".join(v for _, v in row.slice) or "overall"


def absent_names(absent: list[tuple[str, ...]], result: SliceMetricsResult) -> str:
    """'Caucasion (did you mean 'Caucasian'?), Martian': each absent group with the closest
    observed spelling, feature by feature, when every misspelt value has a close one."""
    seen = [set() for _ in result.slice_by]
    for row in result.rows:
        for i, (_, v) in enumerate(row.slice):
            if i < len(seen):
                seen[i].add(v)
    out = []
    for g in absent:
        fixed = []
        for i, v in enumerate(g):
            fixed.append(v if i >= len(seen) or v in seen[i] else close_match(v, seen[i]))
        hint = ""
        if None not in fixed and tuple(fixed) != tuple(g):
            hint = f" (did you mean '{' & '.join(fixed)}'?)"
        out.append(" & ".join(g) + hint)
    return ", ".join(out)


def _listed(items: list[str]) -> str:
    shown = ", ".join(items[:MAX_LISTED])
    return shown + (f", … ({len(items) - MAX_LISTED} more)" if len(items) > MAX_LISTED else "")


NEEDS_POSITIVES = ("recall", "false_negative_rate", "auc")


def preconditions(spec: SliceRuleSpec, result: SliceMetricsResult, sel: Selection):
    """Reasons this rule cannot be judged yet (status, message) or None.  Messages start with the
    class ('class denied (id 2): …') for a multiclass rule."""
    from rai_policy.rules.base import Status

    feats = ", ".join(spec.slice_by)
    cls = spec.class_label()
    if sel.not_computed:
        where = _listed([slice_label(r.slice) for r in sel.not_computed])
        return (Status.ERROR, f"{cls}metric {spec.metric}@{result.threshold:g} not computed for slice {where} "
                "(the engine's output is incomplete)")
    if sel.total and sel.in_groups + sel.missing != sel.total:
        return (Status.ERROR, f"{cls}the slices of {feats} account for {sel.in_groups} + {sel.missing} missing of "
                f"{sel.total} rows: the engine's output is incomplete (a slice was not computed)")
    if sel.missing and spec.on_missing == "error":
        return (Status.ERROR, f"{cls}{feats}: {sel.missing} of {sel.total} rows have no value; "
                "set `on_missing: exclude` to judge the other rows")
    ref = spec.class_ref
    if ref is not None and spec.metric in NEEDS_POSITIVES and result.rows \
            and sum(r.tp + r.fn for r in result.rows) == 0:
        return (Status.NOT_EVALUABLE, f"class {ref[1]} (id {ref[0]}) absent from labels: "
                f"{spec.metric} undefined in every group")
    if sel.absent:
        return (Status.NOT_EVALUABLE, f"{cls}group(s) {absent_names(sel.absent, result)} have no rows in the data")
    if sel.undefined and spec.on_undefined == "not_evaluable":
        parts = "; ".join(f"group {row_name(r)} has {why}, {spec.metric} undefined" for r, why in sel.undefined[:MAX_LISTED])
        more = f"; … ({len(sel.undefined) - MAX_LISTED} more)" if len(sel.undefined) > MAX_LISTED else ""
        return (Status.NOT_EVALUABLE, cls + parts + more + " (set `on_undefined: skip` to judge the other groups)")
    return None


def notes_for(spec: SliceRuleSpec, sel: Selection) -> tuple[str, ...]:
    """What the reader needs to reconcile the finding with the data: slices evaluated / judged /
    left out, rows in groups + missing = all rows, duplicates that carry a slice over min_slice_size."""
    feats = ", ".join(spec.slice_by)
    notes = [f"{sel.evaluated} slice(s) evaluated: {len(sel.judged)} judged, {len(sel.too_small)} below "
             f"min_slice_size={spec.min_slice_size}, {len(sel.undefined)} with {spec.metric} undefined"
             + (f", {len(sel.absent)} named group(s) absent" if sel.absent else "")]
    notes.append(f"rows: {sel.in_groups} in groups + {sel.missing} with no {feats} value = {sel.in_groups + sel.missing}"
                 + ("" if sel.in_groups + sel.missing == sel.total else f" (of {sel.total} rows evaluated)"))
    if sel.undefined:
        notes.append("skipped (undefined): " + _listed([f"{row_name(r)} ({why})" for r, why in sel.undefined]))
    if sel.too_small:
        notes.append(f"{len(sel.too_small)} slice(s) below min_slice_size={spec.min_slice_size} not judged: "
                     + _listed([f"{row_name(r)} ({r.example_count} rows)" for r in sel.too_small]))
    if sel.missing:
        notes.append(f"{sel.missing} of {sel.total} rows have no value for {feats} and were excluded")
    dups = sel.duplicates or {}
    if dups and spec.min_slice_size > 1:
        rows = [r for r in sel.judged + [u for u, _ in sel.undefined] + sel.too_small
                if dups.get(tuple(v for _, v in r.slice))]
        carried = [r for r in rows if r.example_count >= spec.min_slice_size
                   and r.example_count - dups[tuple(v for _, v in r.slice)] < spec.min_slice_size]
        notes.append(f"{sum(dups.values())} row(s) are exact duplicates of an earlier row (kept): "
                     + _listed([f"{row_name(r)} {dups[tuple(v for _, v in r.slice)]} of {r.example_count}" for r in rows]))
        if carried:
            notes.append(f"only with their duplicate rows do these slices reach min_slice_size={spec.min_slice_size}: "
                         + _listed([f"{row_name(r)} ({r.example_count - dups[tuple(v for _, v in r.slice)]} distinct rows)"
                                    for r in carried]))
    return tuple(notes)


def left_out(spec: SliceRuleSpec, sel: Selection) -> str:
    """'; not judged: C (recall undefined: 0 positive labels); 2 slice(s) below min_slice_size=30'
    for a verdict reached on fewer slices than the data has (a pass with a warning)."""
    parts = []
    if sel.undefined:
        parts.append("not judged: " + _listed([f"{row_name(r)} ({spec.metric} undefined: {why})" for r, why in sel.undefined]))
    if sel.too_small:
        parts.append(f"{len(sel.too_small)} slice(s) below min_slice_size={spec.min_slice_size} not judged")
    if sel.missing:
        parts.append(f"{sel.missing} row(s) with no {', '.join(spec.slice_by)} value excluded")
    return "".join(f"; {p}" for p in parts)
