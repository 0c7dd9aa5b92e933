"""Serve merged evidence requests: each TF tool runs at most once per check.

The engine hands over the set of requests of all rules; this module loads the data once, runs
one slice-metrics pass (TFMA or the equal local path) for every slicing and threshold, one TFDV
statistics pass for every feature, one ε computation per (accountant, δ) and one model-card read.
A request that cannot be served gets an `EvidenceError` with its reason: rules turn it into a
NOT_EVALUABLE or ERROR finding, the other rules still run.
"""
from __future__ import annotations

import time
import traceback

import pandas as pd

from rai_policy import __version__
from rai_policy import data as datamod
from rai_policy.evidence import cache
from rai_policy.errors import InputError
from rai_policy.evidence.types import (Evidence, EvidenceError, FeatureStatsRequest, MembershipRequest,
                                       ModelCardRequest, PrivacyRequest, SliceMetricsRequest)
from rai_policy.evidence.dataset import (LOCAL_MAX_ROWS, GatherInfo, Options,  # noqa: F401 - re-exported
                                         _Data)
from rai_policy.subject import Subject

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


def _input_then_each(reqs, path, missing: str, load, compute, what: tuple[str, str], timing, tool: str,
                     options: Options, info: GatherInfo, out: dict) -> None:
    """The shape of the file-based stages: no file → every request not evaluable; the file read
    once (a bad file fails every request with its reason); then one computation per request."""
    if not path:
        out.update({r: EvidenceError(missing) for r in reqs})
        return
    try:
        loaded = load(path)
    except Exception as exc:  # noqa: BLE001
        out.update({r: _failure(exc, f"reading the {what[0]}", options) for r in reqs})
        return
    for r in reqs:
        t = time.perf_counter()
        try:
            out[r] = compute(loaded, r)
        except Exception as exc:  # noqa: BLE001
            out[r] = _failure(exc, what[1], options)
        info.timings[timing(r)] = info.timings.get(timing(r), 0.0) + time.perf_counter() - t
    info.tools.append(tool)


def _privacy(reqs, subject: Subject, options: Options, info: GatherInfo, out: dict) -> None:
    """ε of the DP-SGD training record, once per (accountant, δ)."""
    from rai_policy.evidence import privacy_adapter

    _input_then_each(reqs, subject.training, "no DP-SGD training record given (--training PATH)",
                     privacy_adapter.load_training_record,
                     lambda record, r: privacy_adapter.compute_privacy(record, r.accountant, r.delta),
                     ("training record", "privacy accounting"), lambda r: f"epsilon_{r.accountant}",
                     "dp_accounting", options, info, out)


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
    from rai_policy.evidence import mia_adapter

    _input_then_each(reqs, subject.membership_data,
                     "no membership-inference data given (--membership-data PATH: loss, member)",
                     mia_adapter.load_membership_data,
                     lambda losses, r: mia_adapter.run_membership_attack(*losses, attack_types=r.attacks,
                                                                         progress=options.progress),
                     ("membership data", "membership inference"), lambda r: "membership_inference",
                     "tensorflow_privacy_mia", options, info, out)


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
