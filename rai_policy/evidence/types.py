"""Evidence requests and results: the contract between rules, the engine and the tool adapters.

Requests are hashable frozen dataclasses so the engine can merge them; results are frozen too and
serialise to builtin types (for the cache and the JSON report).  This module imports no TF tool.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Mapping

# The metric vocabulary of the policy language.  Values are computed per slice from the
# (weighted) confusion counts at a decision threshold (positive when score > threshold, TFMA's
# convention) except `auc` (threshold-free) and `example_count` (unweighted rows).
METRICS: dict[str, str] = {
    "recall": "true positive rate TP / (TP + FN); undefined with 0 positive labels",
    "false_positive_rate": "FP / (FP + TN); undefined with 0 negative labels",
    "false_negative_rate": "FN / (FN + TP); undefined with 0 positive labels",
    "precision": "TP / (TP + FP); undefined with 0 predicted positives",
    "accuracy": "(TP + TN) / all; undefined on an empty slice",
    "auc": "area under the ROC curve; undefined unless both labels occur",
    "selection_rate": "(TP + FP) / all: share predicted positive; undefined on an empty slice",
    "example_count": "number of rows in the slice (unweighted)",
}

SliceKey = tuple[tuple[str, str], ...]  # (("race", "Caucasian"),) ; () is the overall slice


# ---------------------------------------------------------------- requests


@dataclass(frozen=True)
class SliceMetricsRequest:
    """Metrics per slice of `slice_by` (several features = their intersection) at `threshold`.
    `positive_class` (multiclass subjects): the class id judged one-vs-rest; None = binary."""

    slice_by: tuple[str, ...]
    threshold: float
    metrics: frozenset[str]
    positive_class: int | None = None


@dataclass(frozen=True)
class FeatureStatsRequest:
    """Value counts of one feature (TFDV statistics)."""

    feature: str


@dataclass(frozen=True)
class PrivacyRequest:
    """ε of the training record at `delta` with `accountant` ('rdp' or 'pld')."""

    accountant: str
    delta: float


@dataclass(frozen=True)
class ModelCardRequest:
    """The model card document, validated against Model Card Toolkit's schema."""


@dataclass(frozen=True)
class MembershipRequest:
    """The strongest of TF Privacy's membership-inference `attacks` on the member / non-member
    losses (result: ``rai_policy.evidence.mia_adapter.MembershipResult``)."""

    attacks: tuple[str, ...] = ("threshold",)


EvidenceRequest = SliceMetricsRequest | FeatureStatsRequest | PrivacyRequest | ModelCardRequest | MembershipRequest


# ---------------------------------------------------------------- results


@dataclass(frozen=True)
class SliceRow:
    """One slice at one threshold.  Counts are weighted when an example weight is set;
    `example_count` is always the unweighted number of rows.  `metrics` maps a name from
    METRICS to its value, or None when the metric is undefined on this slice (never NaN, never 0
    in its place)."""

    slice: SliceKey
    threshold: float
    example_count: int
    weighted_count: float
    tp: float
    fp: float
    tn: float
    fn: float
    metrics: Mapping[str, float | None]

    def label(self) -> str:
        return slice_label(self.slice)


@dataclass(frozen=True)
class SliceMetricsResult:
    """All rows for one (slice_by, threshold); `engine` names the path that computed them
    ('tfma' or 'local'); `missing` counts rows whose slice value was missing (not in any row)."""

    slice_by: tuple[str, ...]
    threshold: float
    rows: tuple[SliceRow, ...]
    engine: str
    missing: int = 0
    total: int = 0
    duplicate_rows: tuple[tuple[SliceKey, int], ...] = ()  # per slice: rows repeating an earlier row exactly


@dataclass(frozen=True)
class FeatureStats:
    """Value counts of one feature from TFDV statistics: counts per value, rows missing it,
    and all rows.  counts + missing == total."""

    feature: str
    counts: Mapping[str, int]
    missing: int
    total: int
    tool: str = "tfdv"


@dataclass(frozen=True)
class PrivacyResult:
    """ε and every assumption it rests on."""

    accountant: str
    delta: float
    epsilon: float
    sampling: str  # 'poisson' or 'shuffle' (shuffle: the figure assumes Poisson sampling)
    steps: int
    steps_source: str  # how steps was obtained, e.g. "ceil(epochs * examples / batch_size)"
    sampling_rate: float
    noise_multiplier: float
    effective_noise_multiplier: float  # halved when microbatching doubles sensitivity
    optimal_order: float | None = None
    notes: tuple[str, ...] = ()


@dataclass(frozen=True)
class ModelCardDoc:
    """The model card as read from disk: `found` False when the file is absent; `schema_errors`
    lists schema violations (JSON path + message); `document` is the parsed JSON (or None)."""

    path: str
    found: bool
    document: Mapping | None = None
    schema_version: str | None = None
    schema_errors: tuple[str, ...] = ()
    parse_error: str | None = None


@dataclass(frozen=True)
class EvidenceError:
    """An evidence request that could not be served: the reason, said once per request."""

    reason: str
    not_evaluable: bool = True  # False: a broken tool or wiring (rule status `error`)


@dataclass(frozen=True)
class Evidence:
    """The immutable bag rules evaluate: request -> result or EvidenceError."""

    items: Mapping[EvidenceRequest, object] = field(default_factory=dict)

    def get(self, request: EvidenceRequest):
        return self.items.get(request)


def slice_label(key: SliceKey) -> str:
    if not key:
        return "overall"
    return ", ".join(f"{k}={v}" for k, v in key)
