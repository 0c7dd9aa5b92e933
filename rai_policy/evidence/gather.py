"""Serve merged evidence requests: each TF tool runs at most once per check.

The engine hands over the set of requests of all rules; this module loads the data once, runs
one slice-metrics pass (TFMA or the equal local path) for every slicing and threshold, one TFDV
statistics pass for every feature, one ε computation per (accountant, δ) and one model-card read.
A request that cannot be served gets an `EvidenceError` with its reason: rules turn it into a
NOT_EVALUABLE or ERROR finding, the other rules still run.
"""
from __future__ import annotations

import hashlib
import time
import traceback
from dataclasses import dataclass, field
from functools import cached_property

import pandas as pd

from rai_policy import __version__
from rai_policy import data as datamod
from rai_policy.evidence import cache
from rai_policy.errors import InputError
from rai_policy.evidence.types import (Evidence, EvidenceError, FeatureStatsRequest, MembershipRequest,
                                       ModelCardRequest, PrivacyRequest, SliceMetricsRequest)
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
            content = [hashlib.sha256(pd.util.hash_pandas_object(s.frame, index=False).to_numpy().tobytes()
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
        frame = pd.DataFrame({datamod.LABEL: y, datamod.PREDICTION: sc.values})
        if s.example_weight:
            frame[datamod.WEIGHT] = datamod.weights(self.table, s.example_weight)
        for f in features:
            frame[f] = self.slice_column(f).to_numpy()
        if sc.keep is not None:
            frame = frame[sc.keep].reset_index(drop=True)
            self.keep = sc.keep
            self.info.dropped_non_finite = sc.dropped
            note = f"{sc.dropped} rows with non-finite predictions dropped (drop_non_finite_predictions)"
            if note not in self.info.notes:
                self.info.notes.append(note)
        return frame

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


def _say(options: Options, message: str) -> None:
    if options.progress:
        options.progress(message)


def _failure(exc: BaseException, tool: str, options: Options) -> EvidenceError:
    if isinstance(exc, InputError):
        return EvidenceError(str(exc), not_evaluable=False)
    detail = traceback.format_exc() if options.debug else ""
    return EvidenceError(f"{tool} failed: {type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''}"
                         + (f"\n{detail}" if detail else ""), not_evaluable=False)


def _tool_versions(*names: str) -> list:
    from importlib.metadata import PackageNotFoundError, version

    out = [__version__]
    for n in names:
        try:
            out.append(version(n))
        except PackageNotFoundError:
            out.append(None)
    return out


def _slice_key(data: "_Data", engine: str, slicing, threshold, positive_class: int | None = None) -> str:
    tools = _tool_versions("tensorflow-model-analysis") if engine == "tfma" else _tool_versions()
    extra = [] if positive_class is None else ["class", positive_class]
    return cache.digest("slice_metrics", data.identity, engine, list(slicing), threshold, tools, *extra)


def _with_duplicates(result, frame: pd.DataFrame, dups):
    """The result with its per-slice count of exact-duplicate rows (gap case: duplicates that carry
    a slice over min_slice_size)."""
    import dataclasses

    if dups is None or not dups.any() or not result.slice_by:
        return result
    sl = list(result.slice_by)
    counts = frame.loc[dups, sl].dropna().value_counts()
    pairs = tuple(sorted((tuple(zip(sl, (str(v) for v in (k if isinstance(k, tuple) else (k,))))), int(n))
                         for k, n in counts.items()))
    return dataclasses.replace(result, duplicate_rows=pairs)


def _slice_metrics(reqs, data: "_Data", options: "Options", info: "GatherInfo", out: dict, store) -> None:
    """Slice metrics for every request: binary requests together, each class of a multiclass
    subject on its own one-vs-rest frame."""
    by_class: dict = {}
    for r in reqs:
        by_class.setdefault(getattr(r, "positive_class", None), []).append(r)
    for positive_class in sorted(by_class, key=lambda c: -1 if c is None else c):
        _slice_metrics_for(by_class[positive_class], positive_class, data, options, info, out, store)


def _choose_engine(options: Options, data: "_Data", info: GatherInfo) -> str:
    engine = options.engine
    if engine != "auto":
        info.engine_reason = f"--engine {engine}"
        return engine
    rows = info.rows if info.rows is not None else len(data.table)
    engine = "local" if rows <= LOCAL_MAX_ROWS else "tfma"
    info.engine_reason = (f"auto: {rows:,} rows ≤ {LOCAL_MAX_ROWS:,}, in-process path (equal to TFMA by the parity suite)"
                          if engine == "local" else f"auto: {rows:,} rows > {LOCAL_MAX_ROWS:,}, TFMA on Beam")
    return engine


def _slice_metrics_for(reqs, positive_class, data: _Data, options: Options, info: GatherInfo, out: dict, store) -> None:
    slicings = sorted({r.slice_by for r in reqs})
    thresholds = sorted({r.threshold for r in reqs})
    results: dict = {}
    try:
        # auto with a cache: an earlier run's choice is found under the engine it picked
        engines = [options.engine] if options.engine != "auto" else ["local", "tfma"]
        if store is not None:
            for engine in engines:
                found = {(sl, t): store.get(_slice_key(data, engine, sl, t, positive_class))
                         for sl in slicings for t in thresholds}
                if all(v is not None for v in found.values()):
                    results, info.engine = found, engine
                    info.engine_reason = f"served from the evidence cache (computed by {engine})"
                    break
                results.update({k: v for k, v in found.items() if v is not None})
        todo = sorted({sl for sl in slicings for t in thresholds if (sl, t) not in results})
    except Exception as exc:  # noqa: BLE001 - e.g. a data file that vanished
        err = _failure(exc, "reading the data", options)
        out.update({r: err for r in reqs})
        return
    too_many: dict = {}
    if todo:
        features = sorted({f for sl in todo for f in sl})
        try:
            frame = data.prepared(features, positive_class)
        except Exception as exc:  # noqa: BLE001 - every failure becomes a finding with its reason
            err = _failure(exc, "reading the data", options)
            out.update({r: err for r in reqs})
            return
        for sl in todo:
            n = frame[list(sl)].dropna().drop_duplicates().shape[0] if sl else 1
            if n > options.max_slices:
                too_many[sl] = EvidenceError(f"{' × '.join(sl)} has {n:,} slices, more than max_slices={options.max_slices:,} "
                                             "(raise --max-slices to evaluate them)", not_evaluable=False)
        todo = [sl for sl in todo if sl not in too_many]
        engine = _choose_engine(options, data, info)
        info.engine = engine
        if todo:
            t = time.perf_counter()
            try:
                if engine == "tfma":
                    from rai_policy.evidence import tfma_adapter as adapter
                else:
                    from rai_policy.evidence import local_metrics as adapter
                kwargs = {"beam_pipeline_args": options.beam_pipeline_args} if engine == "tfma" else {}
                computed = adapter.compute_slice_metrics(frame, todo, thresholds,
                                                         weighted=datamod.WEIGHT in frame.columns,
                                                         progress=options.progress, **kwargs)
            except Exception as exc:  # noqa: BLE001
                err = _failure(exc, "TFMA" if engine == "tfma" else "slice metrics", options)
                out.update({r: err for r in reqs})
                return
            key = f"slice_metrics_{engine}"
            info.timings[key] = info.timings.get(key, 0.0) + time.perf_counter() - t
            info.tools.append("tfma" if engine == "tfma" else "local")
            dups = _frame_duplicates(data, frame)
            if dups is not None and dups.any():
                note = f"{int(dups.sum())} of {len(frame)} rows are exact duplicates of an earlier row (kept, not removed)"
                if note not in info.notes:
                    info.notes.append(note)
            for k, v in computed.items():
                v = _with_duplicates(v, frame, dups)
                results[k] = v
                if store is not None:
                    store.put(_slice_key(data, engine, *k, positive_class), v)
    if info.rows is None and results:
        info.rows = next(iter(results.values())).total or None
    for r in reqs:
        res = results.get((r.slice_by, r.threshold))
        if r.slice_by in too_many:
            out[r] = too_many[r.slice_by]
        elif res is None:
            out[r] = EvidenceError(f"metrics for slice {r.slice_by} at threshold {r.threshold} were not computed",
                                   not_evaluable=False)
        elif len(res.rows) > options.max_slices:
            out[r] = EvidenceError(f"{' × '.join(r.slice_by)} has {len(res.rows):,} slices, more than "
                                   f"max_slices={options.max_slices:,} (raise --max-slices to evaluate them)",
                                   not_evaluable=False)
        else:
            out[r] = res


def _frame_duplicates(data: _Data, frame: pd.DataFrame):
    """The duplicate mask of the data aligned with `frame` (rows dropped for non-finite scores removed)."""
    try:
        dups = data.duplicates()
    except Exception:  # noqa: BLE001 - duplicates are a note, never a reason to fail
        return None
    if dups is None:
        return None
    keep = data.__dict__.get("keep")
    if len(dups) != len(frame) and keep is not None and int(keep.sum()) == len(frame):
        dups = dups[keep]
    return dups if len(dups) == len(frame) else None


def _feature_stats(reqs, data: _Data, options: Options, info: GatherInfo, out: dict, store) -> None:
    todo = []
    for r in reqs:
        try:
            key = cache.digest("feature_stats", data.identity, r.feature, _tool_versions("tensorflow-data-validation"))
            hit = store.get(key) if store is not None else None
        except Exception as exc:  # noqa: BLE001
            out[r] = _failure(exc, "reading the data", options)
            continue
        if hit is not None:
            out[r] = hit
        else:
            todo.append((r, key))
    usable, columns = [], {}
    for r, key in todo:
        try:
            columns[r.feature] = data.slice_column(r.feature)
            usable.append((r, key))
        except Exception as exc:  # noqa: BLE001
            out[r] = _failure(exc, "reading the data", options)
    if not usable:
        return
    from rai_policy.evidence import tfdv_adapter

    t = time.perf_counter()
    try:
        stats = tfdv_adapter.feature_stats(pd.DataFrame(columns), sorted(columns), progress=options.progress)
    except Exception as exc:  # noqa: BLE001
        err = _failure(exc, "TFDV", options)
        out.update({r: err for r, _ in usable})
        return
    info.timings["tfdv_statistics"] = time.perf_counter() - t
    info.tools.append("tfdv")
    for r, key in usable:
        out[r] = stats[r.feature]
        if store is not None:
            store.put(key, stats[r.feature])


def _privacy(reqs, subject: Subject, options: Options, info: GatherInfo, out: dict) -> None:
    if not subject.training:
        out.update({r: EvidenceError("no DP-SGD training record given (--training PATH)") for r in reqs})
        return
    from rai_policy.evidence import privacy_adapter

    try:
        record = privacy_adapter.load_training_record(subject.training)
    except Exception as exc:  # noqa: BLE001
        out.update({r: _failure(exc, "reading the training record", options) for r in reqs})
        return
    for r in reqs:
        t = time.perf_counter()
        try:
            out[r] = privacy_adapter.compute_privacy(record, r.accountant, r.delta)
        except Exception as exc:  # noqa: BLE001
            out[r] = _failure(exc, "privacy accounting", options)
        info.timings[f"epsilon_{r.accountant}"] = time.perf_counter() - t
    info.tools.append("dp_accounting")


def _model_card(reqs, subject: Subject, options: Options, info: GatherInfo, out: dict) -> None:
    from rai_policy.evidence import model_card_adapter

    for r in reqs:
        if not subject.model_card:
            out[r] = EvidenceError("no model card given (--model-card PATH)")
            continue
        try:
            out[r] = card = model_card_adapter.read_model_card(subject.model_card)
            info.model_card = model_card_adapter.summary(card)
        except model_card_adapter.UnknownSchemaVersion as exc:
            out[r] = EvidenceError(str(exc), not_evaluable=False)
        except Exception as exc:  # noqa: BLE001
            out[r] = _failure(exc, "reading the model card", options)
    info.tools.append("model_card_toolkit_schema")


def _membership(reqs, subject: Subject, options: Options, info: GatherInfo, out: dict) -> None:
    """TF Privacy's membership-inference attacks on the member / non-member losses (B25)."""
    if not subject.membership_data:
        out.update({r: EvidenceError("no membership-inference data given (--membership-data PATH: loss, member)")
                    for r in reqs})
        return
    from rai_policy.evidence import mia_adapter

    try:
        members, nonmembers = mia_adapter.load_membership_data(subject.membership_data)
    except Exception as exc:  # noqa: BLE001
        out.update({r: _failure(exc, "reading the membership data", options) for r in reqs})
        return
    for r in reqs:
        t = time.perf_counter()
        try:
            out[r] = mia_adapter.run_membership_attack(members, nonmembers, attack_types=r.attacks,
                                                       progress=options.progress)
        except Exception as exc:  # noqa: BLE001
            out[r] = _failure(exc, "membership inference", options)
        info.timings["membership_inference"] = info.timings.get("membership_inference", 0.0) + time.perf_counter() - t
    info.tools.append("tensorflow_privacy_mia")


def gather(requests, subject: Subject, options: Options) -> tuple[Evidence, GatherInfo]:
    info = GatherInfo()
    out: dict = {}
    data = _Data(subject, options, info)
    store = cache.EvidenceCache(options.cache_dir) if options.cache_dir else None
    by_type: dict[type, list] = {}
    for r in sorted(set(requests), key=repr):
        by_type.setdefault(type(r), []).append(r)
    if SliceMetricsRequest in by_type:
        _say(options, "slice metrics …")
        _slice_metrics(by_type[SliceMetricsRequest], data, options, info, out, store)
    if FeatureStatsRequest in by_type:
        _feature_stats(by_type[FeatureStatsRequest], data, options, info, out, store)
    if PrivacyRequest in by_type:
        _privacy(by_type[PrivacyRequest], subject, options, info, out)
    if ModelCardRequest in by_type:
        _model_card(by_type[ModelCardRequest], subject, options, info, out)
    if MembershipRequest in by_type:
        _membership(by_type[MembershipRequest], subject, options, info, out)
    if info.rows is None and "table" in data.__dict__:
        info.rows = len(data.table)
    if store is not None:
        info.cache = {"dir": str(store.dir), "hits": store.hits, "misses": store.misses}
    return Evidence(out), info
