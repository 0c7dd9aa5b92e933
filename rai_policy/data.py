"""Reading the evaluation data and making it safe to measure.

Formats: CSV, Parquet, TFRecord of tf.Example (one file, several shards, or a glob), or an
in-memory pandas DataFrame; all become one DataFrame and are then normalised the same way, so the
same logical data gives the same report whatever its format (tested in tests/test_hardening.py):

* Missing values.  An empty CSV cell (or one holding only whitespace), None, NaN, pd.NA, an empty
  or whitespace-only string, and a feature absent from a tf.Example are *missing*.  Nothing else
  is: the text "NA", "null" or "None" in a CSV is that text, as it is in every other format.
* Slice values become strings: integers and integral floats read "1" (not "1.0", so an int
  column that pandas turned into floats because of one NaN still reads "1"), other floats their
  shortest repr ("2.5"), booleans "true"/"false" (tf.Example has no booleans: there they are the
  ints 0/1); surrounding whitespace is stripped.  Strings are otherwise taken as written.  CSV has no types: pandas reads a column whose every cell is a
  number as numbers, so a CSV code "007" reads "7" (keep such codes as strings in Parquet or
  TFRecord, or make them non-numeric).  Rows with a missing slice value belong to no group; each
  slice rule counts them (`on_missing: error`, the default, makes that an error stating the count;
  `exclude` judges the other rows and the report reconciles groups + missing = all rows).
  A list-valued cell (a Parquet list, a multi-valued tf.Example feature, a Python list in a
  DataFrame) is an input error naming its row: a row belongs to one group (multi-membership is
  not supported).
* Labels must be 0/1: numbers equal to 0 or 1, or the strings "0"/"1" after stripping whitespace
  (so " 1" is 1, never a third class).  Anything else ("yes"/"no", booleans, "1.0" as text) needs
  `positive_label` (that value → 1, every other value → 0); without it the error lists the distinct
  values seen.  A missing label is an error with the count.
* Multiclass (`classes: [approved, review, denied]` in `subject:`): a label is a class name, or
  an integer id (its position in `classes`); names win over ids when both could match.  Scores
  come from `prediction_columns` (one column per class, in `classes` order) or from a `prediction`
  column holding one vector per row.  A rule with `class:` sees the one-vs-rest binarisation:
  label 1 where the label is that class, score = that class's column.
* Scores must be finite and in [0, 1]; with `prediction_type: logits` a sigmoid is applied first
  (a softmax across the class columns for a multiclass subject).  NaN/inf scores are an input
  error with their counts (NaN and inf) per group, unless `drop_non_finite_predictions: true`
  drops those rows and the report states how many.  A score outside [0, 1] is an input error
  that suggests `prediction_type: logits`.
* An example weight column must exist, be finite and non-negative.
* Rows that are exact duplicates of an earlier row (every column equal) are kept, and counted per
  slice so that a rule can say when duplicates carry a group over `min_slice_size`.
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
SERIALIZED = "__tf_example__"  # TFRecord input keeps each record's bytes, for signatures that parse tf.Example


def _suggest(name: str, columns) -> str:
    match = difflib.get_close_matches(name, [str(c) for c in columns], n=1, cutoff=0.5)
    return f"; did you mean '{match[0]}'?" if match else ""


def require_column(df: pd.DataFrame, name: str, role: str) -> None:
    if name not in df.columns:
        names = [str(c) for c in df.columns if str(c) != SERIALIZED]
        cols = ", ".join(names[:30]) + (" …" if len(names) > 30 else "")
        raise InputError(f"{role} column '{name}' not in the data{_suggest(name, names)} "
                         f"({len(names)} columns: {cols})")


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
        # Only an empty cell is missing: "NA", "null", "None" are text, as in every other format.
        return pd.read_csv(path, skipinitialspace=True, keep_default_na=False, na_values=[""], low_memory=False)
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
            row = {SERIALIZED: raw}
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


def _unwrap(v):
    """A one-element list (Parquet list columns) is its element; an empty one is missing."""
    if isinstance(v, (list, tuple, np.ndarray)) and len(v) <= 1:
        return v[0] if len(v) == 1 else None
    return v


def slice_strings(series: pd.Series, name: str) -> pd.Series:
    """Normalise a slice/group column to strings (None = missing).  See the module docstring."""
    if series.dtype == object:
        series = series.map(_unwrap)
    listy = series.map(lambda v: isinstance(v, (list, tuple, np.ndarray, set, dict)))
    if listy.any():
        row = int(np.flatnonzero(listy.to_numpy())[0])
        raise InputError(f"column '{name}': multi-valued group at row {row + 1} ({int(listy.sum())} such rows); "
                         "a row must belong to one group")
    if pd.api.types.is_bool_dtype(series):
        return series.map(lambda v: None if is_missing(v) else str(bool(v)).lower()).astype(object)
    if pd.api.types.is_numeric_dtype(series):
        return series.map(_num_str).astype(object)
    return series.map(_any_str).astype(object)


def is_missing(v) -> bool:
    """None, NaN, pd.NA, pd.NaT (a scalar; lists are never missing)."""
    if v is None or v is pd.NA or v is pd.NaT:
        return True
    return isinstance(v, (float, np.floating)) and math.isnan(v)


def _num_str(v):
    if is_missing(v):
        return None
    f = float(v)
    if math.isinf(f):
        return "inf" if f > 0 else "-inf"
    if f.is_integer():
        return str(int(v)) if isinstance(v, (int, np.integer)) else str(int(f))
    return repr(f)


def _any_str(v):
    if is_missing(v):
        return None
    if isinstance(v, (bool, np.bool_)):
        return str(bool(v)).lower()
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
    listy = raw.map(lambda v: isinstance(v, (list, tuple, np.ndarray)))
    if listy.any():
        raise InputError(f"label column '{column}': multi-valued label at row {int(np.flatnonzero(listy.to_numpy())[0]) + 1}")
    as_str = raw.map(_any_str)
    missing = as_str.isna()
    if missing.any():
        raise InputError(f"label column '{column}': {int(missing.sum())} of {len(df)} rows have no label")
    if positive_label is not None:
        target = _any_str(positive_label)
        if target not in set(as_str):
            raise InputError(f"label column '{column}': positive_label {positive_label!r} never occurs; "
                             f"values seen: {_distinct(as_str)}")
        return (as_str == target).to_numpy(dtype=float)
    if pd.api.types.is_bool_dtype(raw):
        raise InputError(f"label column '{column}' holds booleans; declare `positive_label: true` to map them")
    if not set(as_str) <= {"0", "1"}:
        raise InputError(f"label column '{column}' must hold 0/1; values seen: {_distinct(as_str)}. "
                         "Declare `positive_label: <value>` to map other labels")
    return (as_str == "1").to_numpy(dtype=float)


def label_mapping_note(raw: pd.Series, positive_label) -> str:
    """'labels: 'yes' → 1 (31 rows); 'no' (29), 'maybe' (1) → 0' — every value a mapping touched."""
    as_str = raw.map(_any_str)
    target = _any_str(positive_label)
    counts = as_str.value_counts()
    rest = ", ".join(f"{k!r} ({v})" for k, v in counts.items() if k != target)
    return f"labels: {target!r} → 1 ({int(counts.get(target, 0))} rows); {rest or 'nothing'} → 0"


def _distinct(values: pd.Series, most: int = 10) -> str:
    counts = values.value_counts(dropna=False)
    shown = ", ".join(f"{k!r} ({v})" for k, v in counts.head(most).items())
    return shown + (f" … ({len(counts)} distinct)" if len(counts) > most else "")


def class_labels(df: pd.DataFrame, column: str, classes: tuple[str, ...]) -> np.ndarray:
    """Class ids (0 … K-1) of a multiclass label column: a value is a class name or an integer id."""
    require_column(df, column, "label")
    raw = df[column]
    as_str = raw.map(_any_str)
    missing = as_str.isna()
    if missing.any():
        raise InputError(f"label column '{column}': {int(missing.sum())} of {len(df)} rows have no label")
    lookup = {name: i for i, name in enumerate(classes)}
    for i in range(len(classes)):
        lookup.setdefault(str(i), i)
    ids = as_str.map(lookup)
    unknown = ids.isna()
    if unknown.any():
        valid = ", ".join(f"{name} ({i})" for i, name in enumerate(classes))
        raise InputError(f"label column '{column}': {int(unknown.sum())} rows hold a value that is not a class; "
                         f"values seen: {_distinct(as_str[unknown])}; classes (name (id)): {valid}")
    return ids.to_numpy(dtype=np.int64)


@dataclass(frozen=True)
class Scores:
    values: np.ndarray  # one score per row (rows × classes for `class_scores`)
    dropped: int  # rows dropped for non-finite scores (only with drop_non_finite_predictions)
    keep: np.ndarray | None  # boolean mask of rows kept, when rows were dropped


def _numeric(raw, source: str) -> np.ndarray:
    series = pd.Series(raw).reset_index(drop=True)
    if series.dtype == object:  # "", whitespace, None → missing (NaN), as an empty CSV cell reads
        series = series.map(lambda v: np.nan if _any_str(v) is None else (v.strip() if isinstance(v, str) else v))
    try:
        return pd.to_numeric(series, errors="raise").to_numpy(dtype=float)
    except (ValueError, TypeError):
        bad = pd.to_numeric(series, errors="coerce").isna() & series.notna()
        row = int(np.flatnonzero(bad.to_numpy())[0]) if bad.any() else 0
        raise InputError(f"{source}: {int(bad.sum())} non-numeric scores (first at row {row + 1})") from None


def _non_finite(values: np.ndarray, source: str, groups: dict[str, pd.Series] | None) -> InputError:
    """'4 non-finite predictions (3 NaN, 1 inf) in group=B …' for a 1-D or 2-D score array."""
    nan = np.isnan(values) if values.ndim == 1 else np.isnan(values).any(axis=1)
    bad = ~np.isfinite(values) if values.ndim == 1 else (~np.isfinite(values)).any(axis=1)
    inf = bad & ~nan
    rows = np.flatnonzero(bad)
    shown = ", ".join(str(r + 1) for r in rows[:5]) + (", …" if len(rows) > 5 else "")
    unit = "predictions" if values.ndim == 1 else "rows with a non-finite class score"
    return InputError(f"{source}: {int(bad.sum())} non-finite {unit} ({int(nan.sum())} NaN, {int(inf.sum())} inf)"
                      f"{_by_group(bad, nan, groups)} (rows {shown}); no metric is computed on them "
                      "(set `drop_non_finite_predictions: true` to drop those rows)")


def scores(raw: np.ndarray | pd.Series, *, source: str, prediction_type: str = "probability",
           drop_non_finite: bool = False, groups: dict[str, pd.Series] | None = None) -> Scores:
    """Validated scores in [0, 1] (see the module docstring)."""
    values = _numeric(raw, source)

    def sigmoid(finite):
        return 1.0 / (1.0 + np.exp(-finite))

    return _validated(values, ~np.isfinite(values), source, prediction_type, sigmoid, drop_non_finite, groups)


def _validated(values: np.ndarray, bad: np.ndarray, source: str, prediction_type: str, squash,
               drop_non_finite: bool, groups) -> Scores:
    """Shared by binary scores and class-score matrices: non-finite rows are an error (or dropped
    and counted); logits are squashed by `squash`; probabilities must lie in [0, 1]."""
    keep = None
    if bad.any():
        if not drop_non_finite:
            raise _non_finite(values, source, groups)
        keep = ~bad
    finite = values if keep is None else values[keep]
    if prediction_type == "logits":
        finite = squash(finite)
    else:
        _check_unit_range(finite, source)
    if keep is None:
        return Scores(finite, 0, None)
    full = values.copy()
    full[keep] = finite
    return Scores(full, int(bad.sum()), keep)


def _check_unit_range(finite: np.ndarray, source: str) -> None:
    if finite.size and (finite.min() < 0 or finite.max() > 1):
        out = int(((finite < 0) | (finite > 1)).sum())
        raise InputError(f"{source}: {out} scores outside [0, 1] (min {finite.min():.4g}, max {finite.max():.4g}); "
                         "if these are logits declare `prediction_type: logits`")


def class_scores(df: pd.DataFrame, *, classes: tuple[str, ...], prediction_columns: tuple[str, ...] = (),
                 prediction: str | None = None, prediction_type: str = "probability",
                 drop_non_finite: bool = False, groups: dict[str, pd.Series] | None = None) -> Scores:
    """Scores whose `values` is the (rows × classes) matrix of a multiclass subject, validated
    like `scores`; `keep` / `dropped` cover rows with any non-finite class score."""
    k = len(classes)
    if prediction_columns:
        if len(prediction_columns) != k:
            raise InputError(f"prediction_columns names {len(prediction_columns)} columns for {k} classes")
        for c in prediction_columns:
            require_column(df, c, "prediction")
        matrix = np.column_stack([_numeric(df[c], f"prediction column '{c}'") for c in prediction_columns])
        source = "prediction columns " + ", ".join(f"'{c}'" for c in prediction_columns)
    elif prediction:
        require_column(df, prediction, "prediction")
        cells = df[prediction]
        sizes = cells.map(lambda v: len(v) if isinstance(v, (list, tuple, np.ndarray)) else -1)
        wrong = sizes != k
        if wrong.any():
            row = int(np.flatnonzero(wrong.to_numpy())[0])
            raise InputError(f"prediction column '{prediction}': a multiclass subject needs one score per class "
                             f"({k}: {', '.join(classes)}) in every row; row {row + 1} holds "
                             f"{'a single value' if sizes.iloc[row] < 0 else f'{sizes.iloc[row]} values'} "
                             "(or name one column per class in `prediction_columns`)")
        try:
            matrix = np.array([np.asarray(v, dtype=float) for v in cells], dtype=float).reshape(len(df), k)
        except (TypeError, ValueError):
            raise InputError(f"prediction column '{prediction}': non-numeric class scores") from None
        source = f"prediction column '{prediction}'"
    else:
        raise InputError("a multiclass subject needs `prediction_columns` (one score column per class) "
                         "or a `prediction` column holding one score vector per row")
    def softmax(finite):
        if not finite.size:
            return finite
        e = np.exp(finite - finite.max(axis=1, keepdims=True))
        return e / e.sum(axis=1, keepdims=True)

    return _validated(matrix, (~np.isfinite(matrix)).any(axis=1), source, prediction_type, softmax,
                      drop_non_finite, groups)


def _by_group(bad: np.ndarray, nan: np.ndarray, groups: dict[str, pd.Series] | None) -> str:
    """' in group=B' (all in one group) or ' — group=B 3 (2 NaN, 1 inf), group=C 1 (1 NaN, 0 inf)'."""
    if not groups:
        return ""
    name, series = next(iter(groups.items()))
    keys = pd.Series(series.to_numpy(), dtype=object).fillna("(missing)").to_numpy()
    frame = pd.DataFrame({"g": keys, "bad": bad, "nan": nan & bad})
    counts = frame[frame["bad"]].groupby("g", sort=True).agg(n=("bad", "sum"), nan=("nan", "sum"))
    if len(counts) == 1:
        return f" in {name}={counts.index[0]}"
    return " — " + ", ".join(f"{name}={g} {int(r.n)} ({int(r.nan)} NaN, {int(r.n - r.nan)} inf)"
                             for g, r in counts.iterrows())


def duplicate_rows(df: pd.DataFrame) -> np.ndarray | None:
    """True for each row that repeats an earlier row exactly (every column equal after the
    normalisation above: text stripped, empty text missing); None when a cell cannot be compared
    (e.g. lists)."""
    canon = {}
    for name in df.columns:
        if name == SERIALIZED:  # the record bytes repeat the features (and their encoding varies)
            continue
        col = df[name]
        if col.dtype == object:
            text = col.astype(str).str.strip()
            col = text.where(col.notna() & (text != ""), None)
        canon[name] = col
    try:
        return pd.DataFrame(canon).duplicated(keep="first").to_numpy()
    except TypeError:
        return None


def weights(df: pd.DataFrame, column: str) -> np.ndarray:
    require_column(df, column, "example weight")
    w = pd.to_numeric(df[column], errors="coerce").to_numpy(dtype=float)
    bad = ~np.isfinite(w)
    if bad.any():
        raise InputError(f"example weight column '{column}': {int(bad.sum())} rows are missing, non-numeric or infinite")
    if (w < 0).any():
        raise InputError(f"example weight column '{column}': {int((w < 0).sum())} negative weights")
    return w
