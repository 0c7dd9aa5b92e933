"""Reading the evaluation data and making it safe to measure.

Formats: CSV, Parquet, TFRecord of tf.Example (one file, several shards, or a glob), or an
in-memory pandas DataFrame; all become one DataFrame and are then normalised the same way:

* Slice values become strings: integers and integral floats read "1" (not "1.0"), booleans
  "true"/"false", surrounding whitespace is stripped.  Missing values (empty CSV cells, None,
  NaN, a feature absent from a tf.Example) stay missing: they belong to no group and are counted.
  A list-valued cell is an input error naming its row.
* Labels must be 0/1 (numbers, or strings "0"/"1" after stripping whitespace).  Anything else —
  "yes"/"no", booleans — needs `positive_label` (that value → 1, every other value → 0).
* Scores must be finite and in [0, 1]; with `prediction_type: logits` a sigmoid is applied first.
  NaN/inf scores are an input error with their counts per group, unless
  `drop_non_finite_predictions: true` drops (and reports) those rows.
* An example weight column must exist, be finite and non-negative.
"""
from __future__ import annotations

import difflib
import glob
import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from rai_policy.errors import InputError

LABEL, PREDICTION, WEIGHT = "__label__", "__prediction__", "__weight__"


def _suggest(name: str, columns) -> str:
    match = difflib.get_close_matches(name, [str(c) for c in columns], n=1, cutoff=0.5)
    return f"; did you mean '{match[0]}'?" if match else ""


def require_column(df: pd.DataFrame, name: str, role: str) -> None:
    if name not in df.columns:
        cols = ", ".join(map(str, list(df.columns)[:30])) + (" …" if len(df.columns) > 30 else "")
        raise InputError(f"{role} column '{name}' not in the data{_suggest(name, df.columns)} "
                         f"({len(df.columns)} columns: {cols})")


def expand_paths(paths: list[str]) -> list[Path]:
    out: list[Path] = []
    for p in paths:
        matches = sorted(glob.glob(p)) if any(ch in p for ch in "*?[") else [p]
        if not matches:
            raise InputError(f"no data file matches {p}")
        out.extend(Path(m) for m in matches)
    for p in out:
        if not p.exists():
            raise InputError(f"data file not found: {p}")
        if p.is_dir():
            raise InputError(f"data path is a directory, not a file: {p}")
    return out


def _read_one(path: Path) -> pd.DataFrame:
    suffix = "".join(path.suffixes[-2:]).lower()
    try:
        if suffix.endswith((".parquet", ".pq")):
            return pd.read_parquet(path)
        if ".tfrecord" in suffix or suffix.endswith(".tfrec"):
            return _read_tfrecord(path)
        return pd.read_csv(path, skipinitialspace=True, keep_default_na=True, na_values=[""], low_memory=False)
    except InputError:
        raise
    except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError, ValueError, OSError) as exc:
        raise InputError(f"cannot read {path}: {str(exc).splitlines()[0]}") from None


def _read_tfrecord(path: Path) -> pd.DataFrame:
    """tf.Example records → rows; a feature absent from an example is missing (None)."""
    import tensorflow as tf  # only for this format

    rows = []
    try:
        for raw in tf.data.TFRecordDataset(str(path)).as_numpy_iterator():
            ex = tf.train.Example.FromString(raw)
            row = {}
            for name, feat in ex.features.feature.items():
                kind = feat.WhichOneof("kind")
                values = list(getattr(feat, kind).value) if kind else []
                values = [v.decode("utf-8") if isinstance(v, bytes) else v for v in values]
                row[name] = None if not values else (values[0] if len(values) == 1 else values)
            rows.append(row)
    except tf.errors.DataLossError as exc:
        raise InputError(f"cannot read TFRecord {path}: {exc.message}") from None
    return pd.DataFrame(rows)


def read_table(paths: list[str] | str) -> pd.DataFrame:
    """All rows of every file, in order (shards are concatenated; absent columns are missing)."""
    files = expand_paths([paths] if isinstance(paths, str) else list(paths))
    frames = [_read_one(p) for p in files]
    df = frames[0] if len(frames) == 1 else pd.concat(frames, ignore_index=True, sort=False)
    if len(df) == 0:
        raise InputError(f"the data has no rows ({', '.join(map(str, files))})")
    return df


def slice_strings(series: pd.Series, name: str) -> pd.Series:
    """Normalise a slice/group column to strings (None = missing).  See the module docstring."""
    listy = series.map(lambda v: isinstance(v, (list, tuple, np.ndarray)))
    if listy.any():
        row = int(np.flatnonzero(listy.to_numpy())[0])
        raise InputError(f"column '{name}': multi-valued group at row {row + 1} ({int(listy.sum())} such rows); "
                         "a row must belong to one group")
    if pd.api.types.is_bool_dtype(series):
        return series.map(lambda v: None if v is None else str(bool(v)).lower()).astype(object)
    if pd.api.types.is_numeric_dtype(series):
        return series.map(_num_str).astype(object)
    return series.map(_any_str).astype(object)


def _num_str(v):
    if v is None or (isinstance(v, float) and math.isnan(v)):
        return None
    f = float(v)
    return str(int(f)) if f.is_integer() else repr(f)


def _any_str(v):
    if v is None or (isinstance(v, float) and math.isnan(v)) or v is pd.NA:
        return None
    if isinstance(v, bool):
        return str(v).lower()
    if isinstance(v, (int, float, np.integer, np.floating)):
        return _num_str(v)
    if isinstance(v, bytes):
        v = v.decode("utf-8", "replace")
    s = str(v).strip()
    return s if s else None


def labels(df: pd.DataFrame, column: str, positive_label=None) -> np.ndarray:
    """0/1 labels as floats (see the module docstring for the rule)."""
    require_column(df, column, "label")
    raw = df[column]
    missing = raw.isna()
    if missing.any():
        raise InputError(f"label column '{column}': {int(missing.sum())} of {len(df)} rows have no label")
    if positive_label is not None:
        target = _any_str(positive_label)
        as_str = raw.map(_any_str)
        if target not in set(as_str):
            raise InputError(f"label column '{column}': positive_label {positive_label!r} never occurs; "
                             f"values seen: {_distinct(as_str)}")
        return (as_str == target).to_numpy(dtype=float)
    if pd.api.types.is_bool_dtype(raw):
        raise InputError(f"label column '{column}' holds booleans; declare `positive_label: true` to map them")
    as_str = raw.map(_any_str)
    if not set(as_str) <= {"0", "1"}:
        raise InputError(f"label column '{column}' must hold 0/1; values seen: {_distinct(as_str)}. "
                         "Declare `positive_label: <value>` to map other labels")
    return (as_str == "1").to_numpy(dtype=float)


def _distinct(values: pd.Series, most: int = 10) -> str:
    counts = values.value_counts(dropna=False)
    shown = ", ".join(f"{k!r} ({v})" for k, v in counts.head(most).items())
    return shown + (f" … ({len(counts)} distinct)" if len(counts) > most else "")


@dataclass(frozen=True)
class Scores:
    values: np.ndarray
    dropped: int  # rows dropped for non-finite scores (only with drop_non_finite_predictions)
    keep: np.ndarray | None  # boolean mask of rows kept, when rows were dropped


def scores(raw: np.ndarray | pd.Series, *, source: str, prediction_type: str = "probability",
           drop_non_finite: bool = False, groups: dict[str, pd.Series] | None = None) -> Scores:
    """Validated scores in [0, 1] (see the module docstring)."""
    try:
        values = pd.to_numeric(pd.Series(raw), errors="raise").to_numpy(dtype=float)
    except (ValueError, TypeError):
        bad = pd.to_numeric(pd.Series(raw), errors="coerce").isna() & pd.Series(raw).notna()
        raise InputError(f"{source}: {int(bad.sum())} non-numeric scores (e.g. {pd.Series(raw)[bad].iloc[0]!r})") from None
    nan, inf = np.isnan(values), np.isinf(values)
    keep = None
    if nan.any() or inf.any():
        if not drop_non_finite:
            where = _by_group(nan | inf, groups)
            raise InputError(f"{source}: {int(nan.sum() + inf.sum())} non-finite predictions ({int(nan.sum())} NaN, "
                             f"{int(inf.sum())} inf){where}; no metric is computed on them "
                             "(set `drop_non_finite_predictions: true` to drop those rows)")
        keep = ~(nan | inf)
    finite = values if keep is None else values[keep]
    if prediction_type == "logits":
        finite = 1.0 / (1.0 + np.exp(-finite))
    elif len(finite) and (finite.min() < 0 or finite.max() > 1):
        out = int(((finite < 0) | (finite > 1)).sum())
        raise InputError(f"{source}: {out} scores outside [0, 1] (min {finite.min():.4g}, max {finite.max():.4g}); "
                         "if these are logits declare `prediction_type: logits`")
    if keep is not None:
        full = values.copy()
        full[keep] = finite
        return Scores(full, int((~keep).sum()), keep)
    return Scores(finite, 0, None)


def _by_group(mask: np.ndarray, groups: dict[str, pd.Series] | None) -> str:
    if not groups:
        return ""
    name, series = next(iter(groups.items()))
    counts = pd.Series(mask).groupby(series.fillna("(missing)").to_numpy()).sum()
    parts = [f"{int(n)} in {name}={g}" for g, n in counts.items() if n]
    return " — " + ", ".join(parts)


def weights(df: pd.DataFrame, column: str) -> np.ndarray:
    require_column(df, column, "example weight")
    w = pd.to_numeric(df[column], errors="coerce").to_numpy(dtype=float)
    bad = ~np.isfinite(w)
    if bad.any():
        raise InputError(f"example weight column '{column}': {int(bad.sum())} rows are missing, non-numeric or infinite")
    if (w < 0).any():
        raise InputError(f"example weight column '{column}': {int((w < 0).sum())} negative weights")
    return w
