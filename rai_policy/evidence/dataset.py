"""The evaluation data of one check, read once and normalised on demand, plus the options and
the record of what gathering did.  Labels, scores (from a column or a model), weights, slice
columns and one-vs-rest classes are prepared here for the slice-metrics engines.
"""
from __future__ import annotations

import hashlib
import time
from dataclasses import dataclass, field
from functools import cached_property

import pandas as pd

from rai_policy import data as datamod
from rai_policy.errors import InputError
from rai_policy.evidence import cache
from rai_policy.subject import Subject

LOCAL_MAX_ROWS = 10_000_000  # `--engine auto` computes slice metrics in-process up to this many rows
DEFAULT_MAX_SLICES = 1000


@dataclass
class Options:
    engine: str = "auto"  # auto | local | tfma
    beam_pipeline_args: list[str] = field(default_factory=list)
    max_slices: int = DEFAULT_MAX_SLICES
    progress: object = None  # callable(message) or None
    debug: bool = False
    cache_dir: str | None = None  # None: no cache (the CLI passes the default cache directory)


@dataclass
class GatherInfo:
    """What the gathering did, for the report: engine, row counts, timings, notes."""

    engine: str | None = None
    engine_reason: str | None = None
    rows: int | None = None
    dropped_non_finite: int = 0
    timings: dict = field(default_factory=dict)
    tools: list = field(default_factory=list)
    notes: list = field(default_factory=list)
    cache: dict | None = None
    model_card: dict | None = None  # name, version, overview of the card read (for the reports)


class _Data:
    """The evaluation data, read once, normalised on demand."""

    def __init__(self, subject: Subject, options: Options, info: GatherInfo):
        self.subject, self.options, self.info = subject, options, info
        self._slices: dict[str, pd.Series] = {}

    @cached_property
    def table(self) -> pd.DataFrame:
        if self.subject.frame is not None:
            return self.subject.frame.reset_index(drop=True)
        if not self.subject.data:
            raise InputError("no data given (--data PATH, or `subject: data:` in the policy)")
        t = time.perf_counter()
        df = datamod.read_table(list(self.subject.data))
        self.info.timings["read_data"] = time.perf_counter() - t
        self.info.rows = len(df)
        return df

    @cached_property
    def identity(self) -> str:
        """A content hash of the data and of everything that turns it into labels and scores."""
        from rai_policy.report.provenance import sha256_path

        s = self.subject
        if s.frame is not None:
            try:
                hashed = pd.util.hash_pandas_object(s.frame, index=False)
            except TypeError:  # unhashable cells (lists): hash their text; the data layer then rejects them
                hashed = pd.util.hash_pandas_object(s.frame.applymap(repr), index=False)
            content = [hashlib.sha256(hashed.to_numpy().tobytes()
                                      + repr(list(map(str, s.frame.columns))).encode()).hexdigest()]
        else:
            content = [sha256_path(p) for p in datamod.expand_paths(list(s.data))]
        model = sha256_path(s.model) if s.model and not s.prediction else None
        return cache.digest(content, s.label, s.prediction, model, s.signature, s.example_weight,
                            s.positive_label, s.prediction_type, s.drop_non_finite_predictions,
                            *([list(s.classes), list(s.prediction_columns)] if s.classes else []))

    def slice_column(self, feature: str) -> pd.Series:
        if feature not in self._slices:
            datamod.require_column(self.table, feature, "slice")
            self._slices[feature] = datamod.slice_strings(self.table[feature], feature)
        return self._slices[feature]

    def prepared(self, features: list[str], positive_class: int | None = None) -> pd.DataFrame:
        """Label, score, weight and slice columns (rows with dropped scores removed); for a
        multiclass subject the one-vs-rest binarisation for `positive_class`."""
        s = self.subject
        if not s.label:
            raise InputError("no label column given (--label COLUMN, or `subject: label:`)")
        groups = {f: self.slice_column(f) for f in features if f in self.table.columns}
        if s.classes or positive_class is not None:
            y, sc = self._one_vs_rest(positive_class, groups)
        else:
            y = datamod.labels(self.table, s.label, s.positive_label)
            sc = self._binary_scores(groups)
            if s.positive_label is not None:
                self._note(datamod.label_mapping_note(self.table[s.label], s.positive_label))
        frame = pd.DataFrame({datamod.LABEL: y, datamod.PREDICTION: sc.values})
        if s.example_weight:
            frame[datamod.WEIGHT] = datamod.weights(self.table, s.example_weight)
        for f in features:
            frame[f] = self.slice_column(f).to_numpy()
        if sc.keep is not None:
            frame = frame[sc.keep].reset_index(drop=True)
            self.keep = sc.keep
            self.info.dropped_non_finite = sc.dropped
            self._note(f"{sc.dropped} rows with non-finite predictions dropped (drop_non_finite_predictions)")
        return frame

    def _note(self, note: str) -> None:
        if note not in self.info.notes:
            self.info.notes.append(note)

    def _one_vs_rest(self, positive_class: int | None, groups):
        s = self.subject
        if positive_class is None or not s.classes:
            raise InputError("a multiclass subject (`classes:`) needs `class:` on every slice rule, and `class:` "
                             "needs `classes:` in `subject:`")
        if not 0 <= positive_class < len(s.classes):
            raise InputError(f"class id {positive_class} is out of range for classes {', '.join(s.classes)}")
        ids = datamod.class_labels(self.table, s.label, s.classes)
        if s.model and not (s.prediction or s.prediction_columns):
            raise InputError("scoring a multiclass model with --model is not supported; put one score column per "
                             "class in the data and name them in `prediction_columns`")
        sc = datamod.class_scores(self.table, classes=s.classes, prediction_columns=s.prediction_columns,
                                  prediction=s.prediction, prediction_type=s.prediction_type,
                                  drop_non_finite=s.drop_non_finite_predictions, groups=groups)
        y = (ids == positive_class).astype(float)
        return y, datamod.Scores(sc.values[:, positive_class], sc.dropped, sc.keep)

    def duplicates(self):
        """Per row: does it repeat an earlier row exactly (None when cells cannot be compared)."""
        if "_dups" not in self.__dict__:
            self._dups = datamod.duplicate_rows(self.table)
        return self._dups

    def _binary_scores(self, groups):
        s = self.subject
        if s.prediction:
            datamod.require_column(self.table, s.prediction, "prediction")
            raw, source = self.table[s.prediction], f"prediction column '{s.prediction}'"
        elif s.model:
            from rai_policy.evidence import scoring

            t = time.perf_counter()
            raw = scoring.score_model(s.model, self.table, signature=s.signature, progress=self.options.progress)
            self.info.timings["score_model"] = time.perf_counter() - t
            source = f"model {s.model}"
        else:
            raise InputError("no scores: give --prediction COLUMN (scores in the data) or --model PATH")
        return datamod.scores(raw, source=source, prediction_type=s.prediction_type,
                              drop_non_finite=s.drop_non_finite_predictions, groups=groups)
