"""Slice metrics through TensorFlow Model Analysis 0.46: the reference engine.

One TFMA run computes every slice spec and threshold: ``FairnessIndicators`` (rates at the decision
thresholds), ``ConfusionMatrixAtThresholds`` (weighted TP/FP/TN/FN), ``AUC``,
``WeightedExampleCount`` and an unweighted ``ExampleCount``.  After the run every
(metric, threshold, slice) the caller asked for is checked to be present in TFMA's output; a gap
raises `MissingMetricError` instead of passing silently (field case B07).

The pipeline is ``tfma.analyze_raw_data`` spelled out (same Arrow canonicalisation,
``beam.Create`` of one record batch, ``tfma.ExtractEvaluateAndWriteResults``, default writers)
because ``analyze_raw_data`` builds ``beam.Pipeline()`` without options: here the pipeline gets
``PipelineOptions(beam_pipeline_args)`` (with no args that is exactly what ``beam.Pipeline()``
uses) and an explicit Arrow schema (a slice column that is all None stays a string column).

TFMA quirks handled here (observed with 0.46):
* slice values come back as str (TFMA stores them as bytes and decodes them);
* undefined rates are NaN, and AUC of a slice with a single label is 0.0: both become None;
* ``ExampleCount`` is weighted whenever the model spec has an ``example_weight_key``, so the row
  count is a second ``ExampleCount`` in a metrics spec marked ``unweighted``.

TensorFlow, Beam and TFMA are imported inside the functions that need them, never at import time.
"""
from __future__ import annotations

import json
import math
import tempfile
import warnings
from typing import TYPE_CHECKING, Any, Iterable, Mapping

from rai_policy.evidence.local_metrics import (
    LABEL_COLUMN,
    PREDICTION_COLUMN,
    WEIGHT_COLUMN,
    Progress,
    normalise_request,
)
from rai_policy.evidence.types import SliceKey, SliceMetricsResult, SliceRow, slice_label

if TYPE_CHECKING:
    import pandas as pd

ENGINE = "tfma"

FAIRNESS_NAME = "fairness_indicators_metrics"
CONFUSION_NAME = "confusion_matrix_at_thresholds"
AUC_NAME = "auc"
EXAMPLE_COUNT_NAME = "example_count"
WEIGHTED_COUNT_NAME = "weighted_example_count"

# Policy metric -> FairnessIndicators sub-metric that carries it.
FAIRNESS_SOURCES = {
    "recall": "recall",
    "false_positive_rate": "false_positive_rate",
    "false_negative_rate": "false_negative_rate",
    "precision": "precision",
    "selection_rate": "positive_rate",
}

# A TFMA metric as found in the output: (metric name, example_weighted).
TfmaKey = tuple[str, bool]
# One slice's TFMA output: metric key -> MetricValue proto.
SliceOutput = Mapping[TfmaKey, Any]
# A slice as TFMA keys it: (feature, value) pairs sorted by feature.
CanonicalSlice = tuple[tuple[str, str], ...]


class MissingMetricError(RuntimeError):
    """A (metric, threshold, slice) that was asked for is absent from TFMA's output (B07)."""


# ---------------------------------------------------------------- public entry point


def compute_slice_metrics(
    frame: "pd.DataFrame",
    slices: list[tuple[str, ...]],
    thresholds: list[float],
    *,
    weighted: bool,
    progress: Progress | None = None,
    beam_pipeline_args: list[str] | None = None,
) -> dict[tuple[tuple[str, ...], float], SliceMetricsResult]:
    """Per-slice metrics for every (slice spec, threshold), from one TFMA run.

    `frame` holds ``__label__`` (0.0/1.0), ``__prediction__`` (score; positive when
    score > threshold), ``__weight__`` (when `weighted`) and one str/None column per slice
    feature.  A slice spec of several features is their intersection, ``()`` the whole frame;
    rows with a None slice value are left out of that spec's groups and counted in ``missing``.
    `beam_pipeline_args` go to the Beam pipeline unchanged (e.g. ``--direct_num_workers=2``).
    Raises MissingMetricError when TFMA's output lacks anything asked for.
    """
    specs, levels = normalise_request(frame, slices, thresholds, weighted=weighted)
    expected = {spec: expected_slices(frame, spec) for spec in specs}
    if len(frame) == 0:
        return {(spec, t): _result(spec, t, [], frame, 0) for spec in specs for t in levels}
    eval_config = build_eval_config(specs, levels, weighted=weighted)
    with tempfile.TemporaryDirectory(prefix="rai_policy_tfma_") as output_path:
        size = f"{len(frame)} rows, {len(specs)} slice spec(s), {len(levels)} threshold(s)"
        _notify(progress, f"tfma: evaluating {size}")
        run_pipeline(_tfma_frame(frame, specs, weighted), eval_config, output_path, beam_pipeline_args)
        _notify(progress, "tfma: evaluation done; reading metrics")
        output = read_metrics(output_path)
    verify_complete(output, expected, levels, weighted=weighted)
    results = {}
    for spec in specs:
        missing = _missing_rows(frame, spec)
        for level in levels:
            rows = [
                _slice_row(key, level, output[_canonical(key)], levels, weighted) for key in expected[spec]
            ]
            results[(spec, level)] = _result(spec, level, rows, frame, missing)
    return results


def _notify(progress: Progress | None, message: str) -> None:
    if progress is not None:
        progress(message)


def _result(
    spec: tuple[str, ...], level: float, rows: list[SliceRow], frame: "pd.DataFrame", missing: int
) -> SliceMetricsResult:
    return SliceMetricsResult(
        slice_by=spec, threshold=level, rows=tuple(sorted(rows, key=lambda row: row.slice)),
        engine=ENGINE, missing=missing, total=len(frame),
    )


# ---------------------------------------------------------------- what to expect (from the frame)


def expected_slices(frame: "pd.DataFrame", spec: tuple[str, ...]) -> list[SliceKey]:
    """Every value combination of `spec` present in the frame (rows with a None value excluded)."""
    if not spec:
        return [()] if len(frame) else []
    combos = frame[list(spec)].dropna().drop_duplicates().itertuples(index=False)
    return sorted(tuple(zip(spec, (str(value) for value in values))) for values in combos)


def _missing_rows(frame: "pd.DataFrame", spec: tuple[str, ...]) -> int:
    if not spec:
        return 0
    return int(frame[list(spec)].isna().any(axis=1).sum())


def _canonical(key: Iterable[tuple[str, str]]) -> CanonicalSlice:
    return tuple(sorted(key))


# ---------------------------------------------------------------- TFMA configuration


def fairness_metric_name(sub_metric: str, level: float, levels: list[float]) -> str:
    """The key FairnessIndicators gives `sub_metric` at `level`, e.g. '.../recall@0.50'.

    TFMA formats every threshold with the digits of the longest one (``calculate_digits``)."""
    from tensorflow_model_analysis.addons.fairness.metrics import fairness_indicators

    digits = fairness_indicators.calculate_digits(levels)
    return "%s/%s@%.*f" % (FAIRNESS_NAME, sub_metric, digits, level)


def metric_configs(levels: list[float]) -> list[Any]:
    """The weighted-by-default metrics: fairness rates, confusion counts, AUC, weighted count."""
    import tensorflow_model_analysis as tfma
    # Importing the module registers FairnessIndicators with TFMA's metric registry.
    from tensorflow_model_analysis.addons.fairness.metrics import fairness_indicators  # noqa: F401

    threshold_config = json.dumps({"thresholds": levels})
    return [
        tfma.MetricConfig(class_name="FairnessIndicators", config=threshold_config),
        tfma.MetricConfig(class_name="ConfusionMatrixAtThresholds", config=threshold_config),
        tfma.MetricConfig(class_name="AUC"),
        tfma.MetricConfig(class_name="WeightedExampleCount"),
    ]


def build_eval_config(specs: list[tuple[str, ...]], levels: list[float], *, weighted: bool) -> Any:
    """One EvalConfig for all slice specs and thresholds (weights via ``example_weight_key``)."""
    import tensorflow_model_analysis as tfma

    _check_distinct_names(levels)
    model_spec = tfma.ModelSpec(
        label_key=LABEL_COLUMN,
        prediction_key=PREDICTION_COLUMN,
        example_weight_key=WEIGHT_COLUMN if weighted else "",
    )
    row_count = tfma.MetricsSpec(
        metrics=[tfma.MetricConfig(class_name="ExampleCount")],
        example_weights=tfma.ExampleWeightOptions(unweighted=True),
    )
    return tfma.EvalConfig(
        model_specs=[model_spec],
        metrics_specs=[tfma.MetricsSpec(metrics=metric_configs(levels)), row_count],
        slicing_specs=[tfma.SlicingSpec(feature_keys=list(spec)) for spec in specs],
    )


def _check_distinct_names(levels: list[float]) -> None:
    """FairnessIndicators keys thresholds by a rounded label; two thresholds must not share one."""
    names = [fairness_metric_name("recall", level, levels) for level in levels]
    if len(set(names)) != len(names):
        raise ValueError(f"thresholds {levels} get indistinguishable FairnessIndicators names {names}")


def _tfma_frame(frame: "pd.DataFrame", specs: list[tuple[str, ...]], weighted: bool) -> "pd.DataFrame":
    """Only the columns TFMA needs, with a fresh index (no index column in the Arrow batch)."""
    features = sorted({feature for spec in specs for feature in spec})
    numeric = [LABEL_COLUMN, PREDICTION_COLUMN] + ([WEIGHT_COLUMN] if weighted else [])
    return frame[numeric + features].reset_index(drop=True)


# ---------------------------------------------------------------- running TFMA


def run_pipeline(
    frame: "pd.DataFrame", eval_config: Any, output_path: str, beam_pipeline_args: list[str] | None
) -> None:
    """``tfma.analyze_raw_data`` with pipeline options: evaluate `frame`, write to `output_path`."""
    import apache_beam as beam
    import pyarrow as pa
    import tensorflow_model_analysis as tfma
    from tfx_bsl.arrow import table_util

    options = pipeline_options(beam_pipeline_args)
    numeric = (LABEL_COLUMN, PREDICTION_COLUMN, WEIGHT_COLUMN)
    schema = pa.schema([
        (name, pa.float64() if name in numeric else pa.string()) for name in frame.columns
    ])
    record_batch = pa.RecordBatch.from_pandas(frame, schema=schema, preserve_index=False)
    batch = table_util.CanonicalizeRecordBatch(record_batch)
    writers = tfma.default_writers(output_path, eval_config=eval_config)
    with warnings.catch_warnings():
        # TFMA 0.46 calls float() on 1-element arrays for every example (deprecated since NumPy
        # 1.25) and divides by zero for undefined rates: thousands of warnings, none actionable.
        warnings.filterwarnings("ignore", category=DeprecationWarning, module=r"tensorflow_model_analysis\.")
        warnings.filterwarnings("ignore", category=RuntimeWarning, module=r"tensorflow_model_analysis\.")
        with beam.Pipeline(options=options) as pipeline:
            _ = (
                pipeline
                | "CreateRecordBatch" >> beam.Create([batch])
                | "ExtractEvaluateAndWriteResults"
                >> tfma.ExtractEvaluateAndWriteResults(
                    eval_config=eval_config, output_path=output_path, writers=writers
                )
            )


def pipeline_options(beam_pipeline_args: list[str] | None) -> Any:
    """Beam PipelineOptions from command-line style args, parsed now so that a bad value is a
    ValueError here rather than argparse's SystemExit in the middle of the run."""
    from apache_beam.options.pipeline_options import PipelineOptions

    args = list(beam_pipeline_args or [])
    options = PipelineOptions(args)
    try:
        options.get_all_options(retain_unknown_options=True)
    except SystemExit as exc:
        raise ValueError(f"invalid Beam pipeline args {args} (see the argparse message above)") from exc
    return options


def read_metrics(output_path: str) -> dict[CanonicalSlice, dict[TfmaKey, Any]]:
    """TFMA's MetricsForSlice records as {slice: {(metric name, weighted): MetricValue}}."""
    import tensorflow_model_analysis as tfma

    output: dict[CanonicalSlice, dict[TfmaKey, Any]] = {}
    for record in tfma.load_metrics(output_path):
        if record.HasField("cross_slice_key"):
            continue
        singles = record.slice_key.single_slice_keys
        key = _canonical((single.column, _slice_value(single)) for single in singles)
        values = output.setdefault(key, {})
        for item in record.metric_keys_and_values:
            values[(item.key.name, item.key.example_weighted.value)] = item.value
    return output


def _slice_value(single: Any) -> str:
    """A slice value as str: TFMA stores str features as bytes (int64/float for numeric ones)."""
    kind = single.WhichOneof("kind")
    value = getattr(single, kind)
    return value.decode("utf-8") if isinstance(value, bytes) else str(value)


# ---------------------------------------------------------------- verification (B07)


def required_metrics(levels: list[float], *, weighted: bool) -> dict[str, TfmaKey]:
    """Label ('false_positive_rate@0.5', 'auc', ...) -> the TFMA key that must be in each slice."""
    required: dict[str, TfmaKey] = {}
    for level in levels:
        for metric, source in FAIRNESS_SOURCES.items():
            required[f"{metric}@{level:g}"] = (fairness_metric_name(source, level, levels), weighted)
        required[f"accuracy@{level:g}"] = (CONFUSION_NAME, weighted)
    required["auc"] = (AUC_NAME, weighted)
    required["example_count"] = (EXAMPLE_COUNT_NAME, False)
    required["weighted_example_count"] = (WEIGHTED_COUNT_NAME, weighted)
    return required


def verify_complete(
    output: Mapping[CanonicalSlice, SliceOutput],
    expected: Mapping[tuple[str, ...], list[SliceKey]],
    levels: list[float],
    *,
    weighted: bool,
) -> None:
    """Raise MissingMetricError when a slice, or the counts every metric rests on (confusion
    matrices, example counts), are absent from `output`.  A rate or AUC that is absent is left out
    of that slice's `metrics` instead: only the rules that need it become ERROR ("metric
    false_positive_rate@0.5 not computed for slice …", B07), the others are judged."""
    required = {label: key for label, key in required_metrics(levels, weighted=weighted).items()
                if key[0] in (CONFUSION_NAME, EXAMPLE_COUNT_NAME, WEIGHTED_COUNT_NAME)}
    problems = []
    for keys in expected.values():
        for key in keys:
            found = output.get(_canonical(key), {})
            for label, tfma_key in required.items():
                if tfma_key not in found:
                    problems.append(f"metric {label} not computed for slice {slice_label(key)}")
                elif tfma_key[0] != CONFUSION_NAME and found[tfma_key].WhichOneof("type") != "double_value":
                    problems.append(f"metric {label} has no numeric value for slice {slice_label(key)}")
            problems.extend(_missing_matrices(found.get((CONFUSION_NAME, weighted)), levels, key))
    if problems:
        shown = "; ".join(problems[:10])
        more = f" (and {len(problems) - 10} more)" if len(problems) > 10 else ""
        raise MissingMetricError(f"TFMA output is incomplete: {shown}{more}")


def _missing_matrices(value: Any, levels: list[float], key: SliceKey) -> list[str]:
    """A confusion-matrix value must hold one matrix per threshold, in the order asked for."""
    if value is None:
        return []
    matrices = value.confusion_matrix_at_thresholds.matrices
    found = [round(m.threshold, 6) for m in matrices]
    return [
        f"metric confusion counts@{level:g} not computed for slice {slice_label(key)}"
        for index, level in enumerate(levels)
        if index >= len(found) or found[index] != round(level, 6)
    ]


# ---------------------------------------------------------------- rows


def _slice_row(
    key: SliceKey, level: float, found: SliceOutput, levels: list[float], weighted: bool
) -> SliceRow:
    """One SliceRow: counts from ConfusionMatrixAtThresholds, rates from FairnessIndicators,
    accuracy from the counts, AUC from AUC (None unless both labels have weight)."""
    matrices = found[(CONFUSION_NAME, weighted)].confusion_matrix_at_thresholds.matrices
    matrix = matrices[levels.index(level)]
    tp, fp = matrix.true_positives, matrix.false_positives
    tn, fn = matrix.true_negatives, matrix.false_negatives
    values: dict[str, float | None] = {
        metric: _double(found[(fairness_metric_name(source, level, levels), weighted)])
        for metric, source in FAIRNESS_SOURCES.items()
        if _numeric(found, (fairness_metric_name(source, level, levels), weighted))
    }  # a rate TFMA did not compute is absent (not None): rules needing it report an ERROR
    everything = (tp + fn) + (tn + fp)
    values["accuracy"] = (tp + tn) / everything if everything else None
    both_labels = tp + fn > 0 and tn + fp > 0
    if _numeric(found, (AUC_NAME, weighted)):
        values["auc"] = _double(found[(AUC_NAME, weighted)]) if both_labels else None
    example_count = _double(found[(EXAMPLE_COUNT_NAME, False)])
    values["example_count"] = example_count
    return SliceRow(
        slice=key, threshold=level, example_count=int(example_count),
        weighted_count=_double(found[(WEIGHTED_COUNT_NAME, weighted)]),
        tp=tp, fp=fp, tn=tn, fn=fn, metrics=values,
    )


def _numeric(found: SliceOutput, key: TfmaKey) -> bool:
    return key in found and found[key].WhichOneof("type") == "double_value"


def _double(value: Any) -> float | None:
    """A MetricValue's double as float; NaN (TFMA's undefined) becomes None."""
    number = value.double_value.value
    return None if math.isnan(number) else float(number)
