"""Slice metrics computed in-process with NumPy: the fast engine, numerically equal to TFMA.

`compute_slice_metrics` has the signature and return type of
``rai_policy.evidence.tfma_adapter.compute_slice_metrics`` and reproduces TFMA 0.46's definitions
(read in ``tensorflow_model_analysis/metrics``); on COMPAS, Adult and the synthetic tables of
``tests/test_slice_parity.py`` the two engines' values are bit-identical (the tests allow 1e-9):

* decision thresholds (``binary_confusion_matrices`` with explicit thresholds): a row counts as
  predicted positive when ``prediction > threshold`` (strict); its example weight goes to TP/FN when
  the label is 1 and to FP/TN when it is 0 (fractional-label split ``w*label`` / ``w*(1-label)``);
* rates (``FairnessIndicators``): a ratio whose denominator is 0 is undefined (None here);
* AUC (``confusion_matrix_metrics.AUC`` with its default 10,000 thresholds): TFMA does not compute
  the exact area; it fills a 10,000-bucket calibration histogram, re-bins it onto Keras's
  interpolated thresholds and sums trapezoids.  `auc_by_group` repeats those steps bin for bin
  and operation for operation.  TFMA returns 0.0 when only one label occurs; here that AUC is
  undefined (None);
* ``example_count`` counts rows; the confusion counts and ``weighted_count`` are weighted.

This module never imports TensorFlow.
"""
from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from typing import Callable, Iterable, Sequence

import numpy as np
import pandas as pd

from rai_policy.evidence.types import SliceKey, SliceMetricsResult, SliceRow

# The prepared frame's columns, named once in rai_policy.data.
from rai_policy.data import LABEL as LABEL_COLUMN  # noqa: E402 - the prepared frame's column names
from rai_policy.data import PREDICTION as PREDICTION_COLUMN  # noqa: E402
from rai_policy.data import WEIGHT as WEIGHT_COLUMN  # noqa: E402

ENGINE = "local"

# TFMA's AUC: calibration_histogram.DEFAULT_NUM_BUCKETS buckets over [0, 1], re-binned onto
# binary_confusion_matrices._interpolated_thresholds(DEFAULT_NUM_THRESHOLDS) with its _EPSILON.
AUC_NUM_BUCKETS = 10_000
AUC_NUM_THRESHOLDS = 10_000
_TFMA_EPSILON = 1e-7

# Largest (groups x AUC thresholds) block held in memory at once (float64 elements).
_MAX_BLOCK_ELEMENTS = 2_000_000

Progress = Callable[[str], None]


# ---------------------------------------------------------------- request checks (both engines)


def normalise_request(
    frame: pd.DataFrame,
    slices: Iterable[Sequence[str]],
    thresholds: Iterable[float],
    *,
    weighted: bool,
) -> tuple[list[tuple[str, ...]], list[float]]:
    """Validate the prepared frame and return (distinct slice specs, sorted distinct thresholds).

    Raises ValueError naming the column or value when the frame breaks the data layer's contract:
    missing columns, labels outside [0, 1], non-finite predictions, negative or non-finite weights,
    slice columns holding something other than str/None, or thresholds outside [0, 1].
    """
    specs = list(dict.fromkeys(tuple(spec) for spec in slices))
    for spec in specs:
        if len(set(spec)) != len(spec):
            raise ValueError(f"slice {spec!r} names a feature twice")
    levels = sorted({float(t) for t in thresholds})
    bad = [t for t in levels if not 0.0 <= t <= 1.0]
    if bad:
        raise ValueError(f"thresholds must lie in [0, 1]; got {bad}")
    features = sorted({feature for spec in specs for feature in spec})
    required = [LABEL_COLUMN, PREDICTION_COLUMN] + ([WEIGHT_COLUMN] if weighted else []) + features
    absent = [c for c in required if c not in frame.columns]
    if absent:
        raise ValueError(f"column(s) {absent} not in the frame (columns: {list(frame.columns)})")
    _check_numeric(frame, weighted)
    for feature in features:
        kind = pd.api.types.infer_dtype(frame[feature], skipna=True)
        if kind not in ("string", "empty"):
            raise ValueError(f"slice column {feature!r} must hold str or None, found {kind}")
    return specs, levels


def _check_numeric(frame: pd.DataFrame, weighted: bool) -> None:
    """Reject labels outside [0, 1], non-finite predictions and bad weights."""
    label = frame[LABEL_COLUMN].to_numpy(dtype=float)
    if np.any(~np.isfinite(label) | (label < 0) | (label > 1)):
        raise ValueError(f"{LABEL_COLUMN} must be finite and within [0, 1]")
    if not np.all(np.isfinite(frame[PREDICTION_COLUMN].to_numpy(dtype=float))):
        raise ValueError(f"{PREDICTION_COLUMN} holds NaN or infinite values")
    if weighted:
        weight = frame[WEIGHT_COLUMN].to_numpy(dtype=float)
        if np.any(~np.isfinite(weight) | (weight < 0)):
            raise ValueError(f"{WEIGHT_COLUMN} must be finite and >= 0")


def metric_values(
    tp: float, fp: float, tn: float, fn: float, auc: float | None
) -> dict[str, float | None]:
    """The METRICS of one slice from its (weighted) confusion counts, TFMA's formulas.

    Rates follow FairnessIndicators (denominator 0 -> undefined); accuracy is (TP+TN)/all; `auc`
    is passed through but dropped when only one label occurs (TFMA itself returns 0.0 there).
    `example_count` is filled in by the caller."""
    positives, negatives = tp + fn, tn + fp
    everything = positives + negatives
    return {
        "recall": _ratio(tp, positives),
        "false_positive_rate": _ratio(fp, negatives),
        "false_negative_rate": _ratio(fn, positives),
        "precision": _ratio(tp, tp + fp),
        "accuracy": _ratio(tp + tn, everything),
        "auc": auc if positives > 0 and negatives > 0 else None,
        "selection_rate": _ratio(tp + fp, everything),
    }


def _ratio(numerator: float, denominator: float) -> float | None:
    return numerator / denominator if denominator else None


# ---------------------------------------------------------------- the engine


@dataclass(frozen=True)
class _Columns:
    """Per-row arrays: prediction, weight, positive / negative weight (w*label, w*(1-label)) and
    the AUC threshold bin of the prediction."""

    prediction: np.ndarray
    weight: np.ndarray
    positive_weight: np.ndarray
    negative_weight: np.ndarray
    auc_bin: np.ndarray

    @classmethod
    def from_frame(cls, frame: pd.DataFrame, weighted: bool) -> "_Columns":
        label = frame[LABEL_COLUMN].to_numpy(dtype=np.float64)
        prediction = frame[PREDICTION_COLUMN].to_numpy(dtype=np.float64)
        if weighted:
            weight = frame[WEIGHT_COLUMN].to_numpy(dtype=np.float64)
        else:
            weight = np.ones(len(frame), dtype=np.float64)
        return cls(prediction, weight, weight * label, weight * (1.0 - label), auc_bins(prediction))

    def take(self, rows: np.ndarray | None) -> "_Columns":
        """The same columns restricted to `rows` (None = all rows)."""
        if rows is None:
            return self
        return _Columns(*(getattr(self, name)[rows] for name in self.__dataclass_fields__))


@dataclass(frozen=True)
class _Groups:
    """The rows of one slice spec that have every slice value: `codes[i]` is the group of the i-th
    such row, `columns` their arrays, `keys[g]` group g's SliceKey; `missing` rows were left out."""

    codes: np.ndarray
    columns: _Columns
    keys: list[SliceKey]
    missing: int

    @property
    def size(self) -> int:
        return len(self.keys)

    def sum(self, values: np.ndarray) -> np.ndarray:
        """Sum of `values` (one per grouped row) per group."""
        return np.bincount(self.codes, weights=values, minlength=self.size)


def compute_slice_metrics(
    frame: pd.DataFrame,
    slices: list[tuple[str, ...]],
    thresholds: list[float],
    *,
    weighted: bool,
    progress: Progress | None = None,
    beam_pipeline_args: list[str] | None = None,
) -> dict[tuple[tuple[str, ...], float], SliceMetricsResult]:
    """Per-slice metrics for every (slice spec, threshold), computed with NumPy.

    Same contract as the TFMA adapter: `frame` holds ``__label__``, ``__prediction__``,
    ``__weight__`` (when `weighted`) and one str/None column per slice feature; a slice spec of
    several features is their intersection and ``()`` the whole frame.  Rows whose slice value is
    None belong to no group and are counted in ``missing``.  `beam_pipeline_args` is accepted for
    signature compatibility and ignored (no Beam here).
    """
    del beam_pipeline_args
    specs, levels = normalise_request(frame, slices, thresholds, weighted=weighted)
    _notify(progress, f"local: {len(specs)} slice spec(s) x {len(levels)} threshold(s) on {len(frame)} rows")
    columns = _Columns.from_frame(frame, weighted)
    codes_cache: dict[str, tuple[np.ndarray, np.ndarray]] = {}
    results: dict[tuple[tuple[str, ...], float], SliceMetricsResult] = {}
    for spec in specs:
        groups = _group_rows(frame, spec, columns, codes_cache)
        for level, rows in _spec_rows(groups, levels).items():
            results[(spec, level)] = SliceMetricsResult(
                slice_by=spec, threshold=level, rows=rows, engine=ENGINE,
                missing=groups.missing, total=len(frame),
            )
    _notify(progress, "local: slice metrics done")
    return results


def _notify(progress: Progress | None, message: str) -> None:
    if progress is not None:
        progress(message)


def _spec_rows(groups: _Groups, levels: list[float]) -> dict[float, tuple[SliceRow, ...]]:
    """The sorted SliceRows of one slice spec at each threshold."""
    example_counts = np.bincount(groups.codes, minlength=groups.size)
    weighted_counts = groups.sum(groups.columns.weight)
    auc = auc_by_group(groups.codes, groups.size, groups.columns)
    by_level = {}
    for level in levels:
        counts = _confusion_counts(groups, level)
        rows = [
            _slice_row(groups.keys[g], level, example_counts[g], weighted_counts[g], counts[:, g], auc[g])
            for g in range(groups.size)
        ]
        by_level[level] = tuple(sorted(rows, key=lambda row: row.slice))
    return by_level


def _slice_row(
    key: SliceKey, level: float, example_count: int, weighted_count: float,
    counts: np.ndarray, auc: float,
) -> SliceRow:
    tp, fp, tn, fn = (float(c) for c in counts)
    values = metric_values(tp, fp, tn, fn, float(auc))
    values["example_count"] = float(example_count)
    return SliceRow(
        slice=key, threshold=level, example_count=int(example_count),
        weighted_count=float(weighted_count), tp=tp, fp=fp, tn=tn, fn=fn, metrics=values,
    )


def _confusion_counts(groups: _Groups, level: float) -> np.ndarray:
    """Weighted TP, FP, TN, FN per group (rows 0..3) with TFMA's strict `prediction > threshold`."""
    cells = groups.codes * 2 + (groups.columns.prediction > level)
    size = 2 * groups.size
    positive = np.bincount(cells, weights=groups.columns.positive_weight, minlength=size).reshape(-1, 2)
    negative = np.bincount(cells, weights=groups.columns.negative_weight, minlength=size).reshape(-1, 2)
    return np.vstack([positive[:, 1], negative[:, 1], negative[:, 0], positive[:, 0]])


# ---------------------------------------------------------------- grouping


def _feature_codes(frame: pd.DataFrame, feature: str, cache: dict) -> tuple[np.ndarray, np.ndarray]:
    """Sorted distinct values of one slice column and each row's index into them (-1 = None)."""
    if feature not in cache:
        codes, uniques = pd.factorize(frame[feature], sort=True)
        cache[feature] = (codes.astype(np.int64), np.asarray(uniques, dtype=object))
    return cache[feature]


def _group_rows(frame: pd.DataFrame, spec: tuple[str, ...], columns: _Columns, cache: dict) -> _Groups:
    """Group the rows that have every feature of `spec` by their value combination.

    Codes are built one feature at a time (``previous * cardinality + code``, renumbered densely
    after each feature so they never overflow); renumbering keeps the order, so group codes follow
    the lexicographic order of the value combinations."""
    n_rows = len(frame)
    if not spec:
        return _Groups(np.zeros(n_rows, dtype=np.int64), columns, [()] if n_rows else [], 0)
    per_feature = [_feature_codes(frame, feature, cache) for feature in spec]
    missing = np.zeros(n_rows, dtype=bool)
    for codes, _ in per_feature:
        missing |= codes < 0
    rows = np.flatnonzero(~missing) if missing.any() else None
    combined = np.zeros(n_rows - int(missing.sum()), dtype=np.int64)
    steps = []
    for codes, uniques in per_feature:
        present, combined = _compact(combined * len(uniques) + (codes if rows is None else codes[rows]))
        steps.append((present, len(uniques), uniques))
    return _Groups(combined, columns.take(rows), _decode_keys(spec, steps), int(missing.sum()))


def _compact(values: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The distinct values in ascending order and each element's index among them."""
    if values.size == 0:
        return values, values
    span = int(values.max()) + 1
    if span > 4 * values.size + 1_000_000:
        return np.unique(values, return_inverse=True)
    present = np.bincount(values, minlength=span) > 0
    return np.flatnonzero(present), (np.cumsum(present) - 1)[values]


def _decode_keys(spec: tuple[str, ...], steps: list) -> list[SliceKey]:
    """Walk the renumbering steps backwards to recover each group's value combination."""
    index = np.arange(len(steps[-1][0]))
    columns = []
    for present, cardinality, uniques in reversed(steps):
        previous, code = np.divmod(present[index], cardinality)
        columns.append(uniques[code])
        index = previous
    return [tuple(zip(spec, (str(v) for v in values))) for values in zip(*reversed(columns))]


# ---------------------------------------------------------------- TFMA's AUC, reproduced


@lru_cache(maxsize=1)
def _rebin_lookup() -> np.ndarray:
    """Map each calibration-histogram bucket id (0 .. AUC_NUM_BUCKETS + 1) to its AUC threshold bin.

    Mirrors ``calibration_histogram.rebin`` as called by ``binary_confusion_matrices``: bucket k
    stands for prediction (k - 1) / num_buckets (bucket 0 for -inf, the last one for +inf) and
    lands in the last bin whose re-bin threshold (Keras's interpolated thresholds + epsilon) it
    reaches."""
    interior = (np.arange(1, AUC_NUM_THRESHOLDS - 1) * 1.0) / (AUC_NUM_THRESHOLDS - 1)
    thresholds = np.concatenate([[-_TFMA_EPSILON], interior, [1.0 + _TFMA_EPSILON]])
    rebin_thresholds = np.where(thresholds != 0, thresholds + _TFMA_EPSILON, thresholds)
    bucket_ids = np.arange(AUC_NUM_BUCKETS + 2)
    bucket_values = (bucket_ids - 1) / AUC_NUM_BUCKETS * (1.0 - 0.0) + 0.0
    bucket_values[0] = -np.inf
    bucket_values[-1] = np.inf
    return np.searchsorted(rebin_thresholds[1:], bucket_values, side="right")


def auc_bins(prediction: np.ndarray) -> np.ndarray:
    """The AUC threshold bin of each prediction: TFMA's histogram bucket
    ``int((p - 0) / 1 * num_buckets + 1)`` clamped to [0, num_buckets + 1], then re-binned."""
    raw = (prediction - 0.0) / 1.0 * AUC_NUM_BUCKETS + 1
    bucket = np.clip(raw, 0, AUC_NUM_BUCKETS + 1).astype(np.int64)  # int() truncates
    return _rebin_lookup()[bucket]


def auc_by_group(codes: np.ndarray, n_groups: int, columns: _Columns) -> np.ndarray:
    """TFMA's AUC for each group, computed in blocks of groups to bound memory."""
    per_block = max(1, _MAX_BLOCK_ELEMENTS // AUC_NUM_THRESHOLDS)
    if n_groups <= per_block:
        return _block_auc(codes, n_groups, columns)
    order = np.argsort(codes, kind="stable")
    bounds = np.searchsorted(codes[order], np.arange(0, n_groups + per_block, per_block))
    parts = []
    for first, lo, hi in zip(range(0, n_groups, per_block), bounds[:-1], bounds[1:]):
        rows = order[lo:hi]
        parts.append(_block_auc(codes[rows] - first, min(per_block, n_groups - first), columns.take(rows)))
    return np.concatenate(parts) if parts else np.zeros(0)


def _block_auc(codes: np.ndarray, n_groups: int, columns: _Columns) -> np.ndarray:
    """Histogram per (group, threshold bin), then TFMA's confusion matrices and trapezoids."""
    cells = codes * AUC_NUM_THRESHOLDS + columns.auc_bin
    size, shape = n_groups * AUC_NUM_THRESHOLDS, (n_groups, AUC_NUM_THRESHOLDS)
    labels = np.bincount(cells, weights=columns.positive_weight, minlength=size).reshape(shape)
    examples = np.bincount(
        cells, weights=columns.positive_weight + columns.negative_weight, minlength=size
    ).reshape(shape)
    return _auc_from_histogram(labels, examples - labels)


def _auc_from_histogram(positives: np.ndarray, negatives: np.ndarray) -> np.ndarray:
    """``_histogram_to_binary_confusion_matrices`` then ``AUC._metric_value`` (ROC, interpolation).

    TFMA sums NaN-free trapezoids (``np.nansum``), so a group with one label gets 0.0."""
    tp = np.cumsum(positives[:, ::-1], axis=1)[:, ::-1]
    fp = np.cumsum(negatives[:, ::-1], axis=1)[:, ::-1]
    zeros = np.zeros((positives.shape[0], 1))
    fn = np.hstack([zeros, np.cumsum(positives[:, :-1], axis=1)])
    tn = np.hstack([zeros, np.cumsum(negatives[:, :-1], axis=1)])
    # The last threshold (1 + epsilon) matches nothing: TFMA resets it explicitly.
    fn[:, -1], tn[:, -1] = tp[:, 0], fp[:, 0]
    tp[:, -1], fp[:, -1] = 0.0, 0.0
    with np.errstate(divide="ignore", invalid="ignore"):
        recall = tp / (tp + fn)
        fp_rate = fp / (fp + tn)
        heights = (recall[:, :-1] + recall[:, 1:]) / 2.0
        return np.nansum((fp_rate[:, :-1] - fp_rate[:, 1:]) * heights, axis=1)
