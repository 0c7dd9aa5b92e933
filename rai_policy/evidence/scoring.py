"""Score a Keras model or a TensorFlow SavedModel on a DataFrame: one float score per row.

TensorFlow is imported inside the functions (``import tensorflow`` costs about 12 s), so importing
this module is free.

Which models
    * A Keras v3 ``.keras`` file or an HDF5 ``.h5`` / ``.hdf5`` file: loaded with
      ``tf.keras.models.load_model(path, compile=False)``; its own inputs are fed.  Such files have
      no signatures, so ``signature`` must not be set.
    * A SavedModel directory (or its ``saved_model.pb``): loaded with ``tf.saved_model.load``; the
      *signature* is the contract, as for TF Serving and TFMA: ``signature`` if given, else
      ``serving_default``.  An unknown name is an ``InputError`` listing the available signatures.
      Only a SavedModel with no signatures at all that Keras wrote (it has ``keras_metadata.pb``) is
      loaded with Keras instead.  The serving signature is preferred over the Keras object because
      it carries whatever preprocessing the exporter put in front of the model.

Input convention (how DataFrame columns feed model inputs)
    1. By name.  Each model input is fed from the column with exactly its name: for Keras the
       names of the ``tf.keras.Input(..., name=...)`` layers (``model.input_names``), for a
       signature its keyword arguments.  Such an input has shape ``(None,)`` or ``(None, 1)``: one
       value per row.
    2. One vector input.  A model with exactly one input of shape ``(None, N)`` is fed from
       ``feature_columns``: the N column names, stacked in that order.  ``feature_columns`` is
       required for such a model (rule 1 cannot feed a vector) and is an error for a model with
       several inputs.
    Any input that neither rule can feed is an ``InputError`` that names every unmatched input with
    its dtype and shape, the closest column name (``difflib``) and the available columns.

    Dtypes: numeric and bool inputs take numeric or bool columns, cast to the input's dtype; an
    integer input rejects missing values.  ``tf.string`` inputs take text columns as ``str`` and
    reject missing values.  Missing values in a float column are passed through: those rows may
    score NaN, which the metrics step reports as non-finite predictions (it never computes a metric
    on them).

Serialized tf.Example signatures (field case B24)
    Before anything is scored the chosen signature's inputs are checked against the columns.  A
    signature that takes serialized ``tf.Example`` strings (typically ``examples: tf.string``, as
    TFX exports ``serving_default``) cannot be fed from raw columns: the ``InputError`` names the
    expected inputs and dtypes, lists every signature with its inputs (marking those the columns
    can feed), and says to set ``signature:`` or to supply TFRecord input.  With TFRecord input
    a single-input ``tf.string`` signature is fed the serialized records themselves.

Output
    Exactly one output tensor (a signature with several outputs is an ``InputError`` listing them).
    ``(N,)`` or ``(N, 1)``: a probability per row (sigmoid).  ``(N, 2)``: a two-class softmax, whose
    column 1 (the positive class) is the score.  Anything else, or values outside [0, 1] (logits),
    or two columns that do not sum to 1, is an ``InputError`` that explains the shape or range.
    Rows are scored in batches of ``batch_size``; ``progress`` (if given) is called after each batch
    with ``"scored i/n rows"``.
"""
from __future__ import annotations

import difflib
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Sequence

import numpy as np
import pandas as pd

from rai_policy.errors import InputError
from rai_policy.data import SERIALIZED

KERAS_SUFFIXES = (".keras", ".h5", ".hdf5")
DEFAULT_SIGNATURE = "serving_default"
_PROB_TOLERANCE = 1e-5  # float32 sigmoid/softmax round-off allowed outside [0, 1] / off sum 1
_SOFTMAX_SUM_TOLERANCE = 1e-3


@dataclass(frozen=True)
class InputSpec:
    """One model input: name, dtype name (``float32``), shape (None for unknown dimensions)."""

    name: str
    dtype: str
    shape: tuple[int | None, ...] | None

    def describe(self) -> str:
        return f"{self.name}: {self.dtype} {_shape_str(self.shape)}"


@dataclass
class _Scorer:
    """A loaded model reduced to what scoring needs."""

    kind: str  # 'keras' or 'signature'
    source: str  # 'Keras model <path>' / "signature 'serving_default' of SavedModel <path>"
    inputs: list[InputSpec]
    call: Callable[[dict[str, Any]], Any]  # feed dict (input name -> tf tensor) -> output(s)
    signatures: dict[str, list[InputSpec]] | None = None  # all signatures (SavedModel only)


def score_model(
    model_path: str,
    frame: pd.DataFrame,
    *,
    signature: str | None = None,
    batch_size: int = 4096,
    progress: Callable[[str], Any] | None = None,
    feature_columns: Sequence[str] | None = None,
) -> np.ndarray:
    """Scores of `frame`'s rows (a 1-D float64 array, one per row) from the model at `model_path`.

    See the module docstring for the accepted models, the input convention and the output rules.
    Every problem with the model or its fit to the data is an ``InputError``.
    """
    if not isinstance(batch_size, int) or batch_size < 1:
        raise InputError(f"batch_size must be a positive integer, got {batch_size!r}")
    if feature_columns is not None:
        if isinstance(feature_columns, str):
            feature_columns = [feature_columns]
        feature_columns = [str(c) for c in feature_columns]
        if not feature_columns:
            raise InputError("feature_columns is empty: name the columns that feed the model input")

    scorer = _load(model_path, signature)
    plan = _match_inputs(scorer, frame, feature_columns)

    import tensorflow as tf

    n = len(frame)
    if n == 0:
        return np.empty(0, dtype=np.float64)
    parts: list[np.ndarray] = []
    for start in range(0, n, batch_size):
        stop = min(start + batch_size, n)
        feed = {
            spec.name: tf.constant(build(start, stop), dtype=tf.as_dtype(spec.dtype))
            for spec, build in plan
        }
        out = scorer.call(feed)
        parts.append(_to_scores(out, stop - start, scorer.source))
        if progress is not None:
            progress(f"scored {stop}/{n} rows")
    return np.concatenate(parts)


def describe_model_inputs(model_path: str, signature: str | None = None) -> list[InputSpec]:
    """The inputs the model (or the chosen signature) expects, for messages and ``rai-policy`` docs."""
    return list(_load(model_path, signature).inputs)


# ------------------------------------------------------------------------------------- loading


def _load(model_path: str, signature: str | None) -> _Scorer:
    path = Path(model_path)
    if path.name == "saved_model.pb" and path.is_file():
        path = path.parent
    if not path.exists():
        raise InputError(f"model {model_path}: not found")
    if path.is_file():
        if path.suffix.lower() not in KERAS_SUFFIXES:
            raise InputError(
                f"model {model_path}: unknown model file type {path.suffix or '(no suffix)'!r}; "
                f"give a Keras file ({', '.join(KERAS_SUFFIXES)}) or a SavedModel directory"
            )
        if signature is not None:
            raise InputError(
                f"model {model_path}: signature {signature!r} was requested, but a Keras file has no "
                f"signatures; remove `signature:` or export a SavedModel"
            )
        return _load_keras(path)
    if not (path / "saved_model.pb").is_file() and not (path / "saved_model.pbtxt").is_file():
        raise InputError(
            f"model {model_path}: a directory without saved_model.pb is not a SavedModel"
        )
    return _load_saved_model(path, signature)


def _load_error(path: Path, e: Exception) -> InputError:
    first = (str(e).strip().splitlines() or [""])[0]
    return InputError(f"model {path}: cannot be loaded ({type(e).__name__}: {first[:500]})")


def _load_keras(path: Path) -> _Scorer:
    import tensorflow as tf

    try:
        model = tf.keras.models.load_model(str(path), compile=False)
    except Exception as e:  # noqa: BLE001 - any load failure is the input's problem
        raise _load_error(path, e) from None
    return _keras_scorer(model, f"Keras model {path}")


def _keras_scorer(model, source: str) -> _Scorer:
    inputs = getattr(model, "inputs", None)
    if not inputs:
        raise InputError(
            f"{source}: the model has no defined inputs (a subclassed model that was never built?); "
            "save a functional model or a SavedModel with a serving signature"
        )
    names = list(getattr(model, "input_names", None) or [t.name.split(":")[0] for t in inputs])
    specs = [
        InputSpec(name=str(name), dtype=t.dtype.name, shape=_shape_tuple(t.shape))
        for name, t in zip(names, inputs)
    ]

    def call(feed: dict[str, Any]):
        if len(specs) == 1:
            return model(feed[specs[0].name], training=False)
        return model({s.name: feed[s.name] for s in specs}, training=False)

    return _Scorer(kind="keras", source=source, inputs=specs, call=call)


def _signature_inputs(fn) -> list[InputSpec]:
    args, kwargs = fn.structured_input_signature
    specs = [
        InputSpec(name=str(name), dtype=spec.dtype.name, shape=_shape_tuple(spec.shape))
        for name, spec in sorted(kwargs.items())
    ]
    for i, spec in enumerate(args):  # signatures take keywords only; be explicit if not
        specs.append(
            InputSpec(name=getattr(spec, "name", None) or f"<positional {i}>",
                      dtype=spec.dtype.name, shape=_shape_tuple(spec.shape))
        )
    return specs


def _load_saved_model(path: Path, signature: str | None) -> _Scorer:
    import tensorflow as tf

    try:
        loaded = tf.saved_model.load(str(path))
    except Exception as e:  # noqa: BLE001
        raise _load_error(path, e) from None
    signatures = {name: _signature_inputs(fn) for name, fn in loaded.signatures.items()}
    if not signatures:
        if signature is None and (path / "keras_metadata.pb").is_file():
            try:
                model = tf.keras.models.load_model(str(path), compile=False)
            except Exception as e:  # noqa: BLE001
                raise _load_error(path, e) from None
            return _keras_scorer(model, f"Keras SavedModel {path}")
        raise InputError(
            f"SavedModel {path}: has no signatures"
            + (f" (signature {signature!r} was requested)" if signature else "")
            + "; export it with a serving signature (tf.saved_model.save(..., signatures=...))"
        )
    wanted = signature if signature is not None else DEFAULT_SIGNATURE
    if wanted not in signatures:
        why = (
            f"signature {wanted!r} not found"
            if signature is not None
            else f"no {DEFAULT_SIGNATURE!r} signature and no `signature:` given"
        )
        raise InputError(
            f"SavedModel {path}: {why}; available signatures: "
            + "; ".join(_sig_line(name, specs) for name, specs in sorted(signatures.items()))
            + ". Set `signature:` to one of them."
        )
    fn = loaded.signatures[wanted]
    if fn.structured_input_signature[0]:
        raise InputError(
            f"SavedModel {path}: signature {wanted!r} takes positional arguments, which cannot be "
            "fed by column name"
        )

    def call(feed: dict[str, Any]):
        out = fn(**feed)
        _ = loaded  # keep the loaded object (and its variables) alive while `fn` is used
        return out

    return _Scorer(
        kind="signature",
        source=f"signature {wanted!r} of SavedModel {path}",
        inputs=signatures[wanted],
        call=call,
        signatures=signatures,
    )


# ------------------------------------------------------------------------------ input matching


def _match_inputs(
    scorer: _Scorer, frame: pd.DataFrame, feature_columns: list[str] | None
) -> list[tuple[InputSpec, Callable[[int, int], np.ndarray]]]:
    """For each model input, a function (start, stop) -> the batch's array; or an InputError."""
    columns = [str(c) for c in frame.columns if str(c) != SERIALIZED]
    by_name = {str(c): c for c in frame.columns}
    specs = scorer.inputs

    if feature_columns is not None:
        if len(specs) != 1:
            raise InputError(
                f"{scorer.source}: feature_columns feeds a model with one vector input, but the "
                f"model has {len(specs)} inputs ({', '.join(s.describe() for s in specs)}); "
                "drop feature_columns: each input is fed from the column of its name"
            )
        return [(specs[0], _vector_feed(scorer, specs[0], frame, feature_columns, by_name))]

    plan: list[tuple[InputSpec, Callable[[int, int], np.ndarray]]] = []
    unmatched: list[InputSpec] = []
    serialized = by_name.get(SERIALIZED)
    for spec in specs:
        if spec.name in by_name:
            plan.append((spec, _column_feed(scorer, spec, frame[by_name[spec.name]])))
        elif spec.dtype == "string" and serialized is not None and len(specs) == 1:
            # TFRecord input: a signature that parses tf.Example gets the records themselves
            records = np.array(frame[serialized].tolist(), dtype=object)
            plan.append((spec, lambda start, stop, r=records: r[start:stop]))
        else:
            unmatched.append(spec)
    if unmatched:
        raise InputError(_unmatched_message(scorer, unmatched, columns))
    return plan


def _unmatched_message(scorer: _Scorer, unmatched: list[InputSpec], columns: list[str]) -> str:
    lines = [f"{scorer.source}: {len(unmatched)} model input(s) have no column of the same name:"]
    for spec in unmatched:
        close = difflib.get_close_matches(spec.name, columns, n=1, cutoff=0.6)
        hint = f"; closest column: {close[0]!r}" if close else "; no similar column"
        lines.append(f"  - {spec.describe()}{hint}")
    lines.append(f"available columns ({len(columns)}): {_column_list(columns)}")

    string_inputs = [s for s in unmatched if s.dtype == "string"]
    if scorer.kind == "signature" and string_inputs:
        names = ", ".join(f"{s.name!r}" for s in string_inputs)
        lines.append(
            f"input {names} is a tf.string tensor: this signature parses serialized tf.Example "
            "records (as TFX exports serving_default), which raw feature columns cannot feed"
        )
    if scorer.signatures:
        lines.append("available signatures:")
        colset = set(columns)
        for name, specs in sorted(scorer.signatures.items()):
            fits = specs and all(s.name in colset for s in specs)
            mark = "  <- its inputs are all columns" if fits else ""
            lines.append(f"  - {_sig_line(name, specs)}{mark}")
        lines.append(
            "hint: set `signature:` to a signature that takes the raw feature columns, or supply "
            "the data as TFRecord files of serialized tf.Example"
        )
    elif len(scorer.inputs) == 1 and _is_vector(scorer.inputs[0]):
        lines.append(
            "hint: the model has one vector input; pass feature_columns (the column names that "
            "make up the vector, in order)"
        )
    else:
        lines.append(
            "each model input is fed from the DataFrame column of the same name; rename the "
            "columns or the model's inputs"
        )
    return "\n".join(lines)


def _column_feed(scorer: _Scorer, spec: InputSpec, series: pd.Series):
    shape = spec.shape
    if shape is not None and not (len(shape) == 1 or (len(shape) == 2 and shape[1] in (1, None))):
        raise InputError(
            f"{scorer.source}: input {spec.describe()} expects more than one value per row, but "
            f"column {spec.name!r} holds one value per row"
            + ("; pass feature_columns to build the vector from several columns"
               if len(scorer.inputs) == 1 else "")
        )
    values = _convert(scorer, spec, series, series.name)
    if shape is not None and len(shape) == 2:
        values = values.reshape(-1, 1)
    return lambda start, stop: values[start:stop]


def _vector_feed(scorer, spec: InputSpec, frame: pd.DataFrame, feature_columns, by_name):
    columns = [str(c) for c in frame.columns]
    missing = [c for c in feature_columns if c not in by_name]
    if missing:
        lines = [f"{scorer.source}: feature_columns names {len(missing)} column(s) not in the data:"]
        for c in missing:
            close = difflib.get_close_matches(c, columns, n=1, cutoff=0.6)
            lines.append(f"  - {c!r}" + (f"; closest column: {close[0]!r}" if close else ""))
        lines.append(f"available columns ({len(columns)}): {_column_list(columns)}")
        raise InputError("\n".join(lines))
    shape = spec.shape
    if shape is None or len(shape) != 2:
        raise InputError(
            f"{scorer.source}: feature_columns feeds an input of shape (None, N), but the input is "
            f"{spec.describe()}"
        )
    if shape[1] is not None and shape[1] != len(feature_columns):
        raise InputError(
            f"{scorer.source}: input {spec.describe()} takes {shape[1]} values per row, but "
            f"feature_columns names {len(feature_columns)} column(s)"
        )
    if spec.dtype == "string":
        raise InputError(f"{scorer.source}: feature_columns cannot feed the text input {spec.describe()}")
    stacked = np.stack(
        [_convert(scorer, spec, frame[by_name[c]], c) for c in feature_columns], axis=1
    )
    return lambda start, stop: stacked[start:stop]


def _convert(scorer: _Scorer, spec: InputSpec, series: pd.Series, column) -> np.ndarray:
    """The column as a numpy array of the input's dtype, or an InputError saying why not."""
    import tensorflow as tf

    dtype = tf.as_dtype(spec.dtype)
    missing = int(series.isna().sum())
    if dtype == tf.string:
        if missing:
            raise InputError(
                f"{scorer.source}: column {column!r} has {missing} missing value(s); the text input "
                f"{spec.describe()} cannot take them"
            )
        return series.astype(str).to_numpy(dtype=object)
    if not (dtype.is_floating or dtype.is_integer or dtype.is_bool):
        raise InputError(f"{scorer.source}: input {spec.describe()} has an unsupported dtype")
    if not (pd.api.types.is_numeric_dtype(series) or pd.api.types.is_bool_dtype(series)):
        sample = ", ".join(repr(v) for v in series.dropna().unique()[:3])
        raise InputError(
            f"{scorer.source}: input {spec.describe()} expects numbers, but column {column!r} holds "
            f"{series.dtype} values (e.g. {sample}); encode it numerically first"
        )
    if (dtype.is_integer or dtype.is_bool) and missing:
        raise InputError(
            f"{scorer.source}: column {column!r} has {missing} missing value(s); the input "
            f"{spec.describe()} cannot take them"
        )
    return series.to_numpy(dtype=dtype.as_numpy_dtype)


# ---------------------------------------------------------------------------------- outputs


def _to_scores(out, rows: int, source: str) -> np.ndarray:
    if isinstance(out, dict):
        if len(out) != 1:
            listing = ", ".join(
                f"{k}: {_shape_str(_shape_tuple(v.shape))}" for k, v in sorted(out.items())
            )
            raise InputError(
                f"{source}: {len(out)} outputs ({listing}); scoring needs a model with exactly one "
                "output (a probability per row)"
            )
        out = next(iter(out.values()))
    elif isinstance(out, (list, tuple)):
        if len(out) != 1:
            raise InputError(
                f"{source}: {len(out)} outputs; scoring needs a model with exactly one output "
                "(a probability per row)"
            )
        out = out[0]
    arr = np.asarray(out)
    if not (np.issubdtype(arr.dtype, np.floating) or np.issubdtype(arr.dtype, np.integer)):
        raise InputError(f"{source}: output dtype {arr.dtype} is not numeric; expected probabilities")
    arr = arr.astype(np.float64)
    if arr.ndim == 0 or arr.shape[0] != rows:
        raise InputError(
            f"{source}: output shape {arr.shape} does not have one row per input row ({rows})"
        )
    if arr.ndim == 1 or (arr.ndim == 2 and arr.shape[1] == 1):
        scores = arr.reshape(-1)
        _check_range(scores, source, f"output shape {_rows_shape(arr.shape)}")
        return scores
    if arr.ndim == 2 and arr.shape[1] == 2:
        _check_range(arr.reshape(-1), source, f"output shape {_rows_shape(arr.shape)}")
        sums = arr.sum(axis=1)
        finite = np.isfinite(sums)
        bad = finite & (np.abs(sums - 1.0) > _SOFTMAX_SUM_TOLERANCE)
        if bad.any():
            raise InputError(
                f"{source}: output shape {_rows_shape(arr.shape)} is not a two-class softmax: "
                f"{int(bad.sum())} row(s) do not sum to 1 (e.g. {sums[bad][0]:.6g}); expected "
                "(N,) or (N, 1) sigmoid probabilities or an (N, 2) softmax"
            )
        return arr[:, 1].copy()
    raise InputError(
        f"{source}: output shape {_rows_shape(arr.shape)} is not a binary score: expected (N,) or "
        "(N, 1) sigmoid probabilities or an (N, 2) two-class softmax (column 1 = positive class); "
        f"a {arr.shape[-1] if arr.ndim == 2 else '?'}-class or multi-dimensional output needs a "
        "class choice that this scorer does not make"
    )


def _check_range(values: np.ndarray, source: str, what: str) -> None:
    finite = values[np.isfinite(values)]
    if finite.size and (finite.min() < -_PROB_TOLERANCE or finite.max() > 1 + _PROB_TOLERANCE):
        raise InputError(
            f"{source}: {what} holds values in [{finite.min():.6g}, {finite.max():.6g}], outside "
            "[0, 1]: these are not probabilities (logits?); end the model with a sigmoid or "
            "softmax"
        )
    np.clip(values, 0.0, 1.0, out=values, where=np.isfinite(values))


# ---------------------------------------------------------------------------------- helpers


def _shape_tuple(shape) -> tuple[int | None, ...] | None:
    try:
        dims = shape.as_list() if hasattr(shape, "as_list") else list(shape)
    except ValueError:  # unknown rank
        return None
    return tuple(None if d is None else int(d) for d in dims)


def _shape_str(shape) -> str:
    if shape is None:
        return "(unknown rank)"
    inner = ", ".join("None" if d is None else str(d) for d in shape)
    return f"({inner},)" if len(shape) == 1 else f"({inner})"


def _rows_shape(shape: tuple[int, ...]) -> str:
    return _shape_str((None,) + tuple(shape[1:]))


def _is_vector(spec: InputSpec) -> bool:
    return spec.shape is not None and len(spec.shape) == 2 and spec.shape[1] not in (1,)


def _sig_line(name: str, specs: list[InputSpec]) -> str:
    return f"{name}({', '.join(s.describe() for s in specs)})"


def _column_list(columns: list[str], limit: int = 40) -> str:
    shown = ", ".join(columns[:limit])
    if len(columns) > limit:
        shown += f", … and {len(columns) - limit} more"
    return shown or "(none)"
