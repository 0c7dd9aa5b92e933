"""The engine: rules → merged evidence requests → one evidence pass → findings → verdict.

It names no rule kind and no tool: rule classes come from the registry, evidence from
`evidence.gather`.  Severity, waivers and the baseline are applied here, after the rules judged.
"""
from __future__ import annotations

import contextlib
import datetime as dt
import json
import os
import signal
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

from rai_policy.errors import ExitCode, InputError
from rai_policy.evidence.gather import GatherInfo, Options, gather
from rai_policy.policy.loader import LoadedPolicy
from rai_policy.report import provenance
from rai_policy.report.model import Report, RuleResult
from rai_policy.rules.base import Finding, Status
from rai_policy.rules.registry import rule_kinds
from rai_policy.subject import Subject


@dataclass
class CheckOptions(Options):
    fail_on: str = "error"  # error | warning: which severities block
    today: dt.date | None = None  # for waiver expiry (tests)
    baseline: str | None = None
    argv: list[str] = field(default_factory=list)
    timeout: float | None = None  # seconds for evidence gathering; over it the run is an error


class GatherTimeout(InputError):
    """Evidence gathering ran past --timeout."""


@contextlib.contextmanager
def _deadline(seconds: float | None):
    """Raise GatherTimeout after `seconds` (main thread, Unix); no-op otherwise."""
    if not seconds or threading.current_thread() is not threading.main_thread() or not hasattr(signal, "SIGALRM"):
        yield
        return
    t0 = time.perf_counter()

    def _alarm(signum, frame):
        raise GatherTimeout(f"evidence gathering stopped after {time.perf_counter() - t0:.1f} s (--timeout {seconds:g} s)")

    previous = signal.signal(signal.SIGALRM, _alarm)
    # After the deadline the alarm repeats, so a later stage (gather turns one stage's timeout into
    # that stage's error finding and goes on) is stopped too instead of running unbounded.
    signal.setitimer(signal.ITIMER_REAL, seconds, 0.2)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


def build_rules(loaded: LoadedPolicy):
    kinds = rule_kinds()
    return [kinds[spec.kind](spec) for spec in loaded.rules]


def _evaluate(rule, evidence) -> Finding:
    try:
        return rule.evaluate(evidence)
    except Exception as exc:  # noqa: BLE001 - a crashing rule is an ERROR finding, never a traceback
        if os.environ.get("RAI_POLICY_DEBUG"):
            raise
        return Finding(Status.ERROR, f"rule crashed: {type(exc).__name__}: {exc}")


def _blocking(severity: str, fail_on: str) -> bool:
    return severity == "error" or (fail_on == "warning" and severity == "warning")


def _waiver_for(rule_id: str, finding: Finding, waivers) -> object | None:
    for w in waivers:
        if w.rule != rule_id:
            continue
        if w.slice is None:
            return w
        want = {k: str(v) for k, v in w.slice.items()}
        if finding.worst_slice and {k: str(v) for k, v in finding.worst_slice.items()} == want:
            return w
    return None


def _final(rule, finding: Finding, loaded: LoadedPolicy, options: CheckOptions, baseline: set) -> RuleResult:
    spec = rule.spec
    status, message, waiver = finding.status, finding.message, None
    if status == Status.FAIL:
        w = _waiver_for(spec.id, finding, loaded.model.waivers)
        today = options.today or dt.date.today()
        if w is not None and w.expires >= today:
            status = Status.WAIVED
            waiver = {"source": "policy", "reason": w.reason, "approved_by": w.approved_by,
                      "expires": w.expires.isoformat(), "slice": w.slice}
        elif w is not None:
            message = f"waiver expired on {w.expires.isoformat()} (approved by {w.approved_by}): {message}"
        elif _baseline_key(spec.id, finding.worst_slice) in baseline:
            status = Status.WAIVED
            waiver = {"source": "baseline", "reason": f"known failure recorded in baseline {options.baseline}",
                      "approved_by": None, "expires": None, "slice": finding.worst_slice}
        if status == Status.FAIL and not _blocking(spec.severity, options.fail_on):
            status = Status.WARN
    origin = loaded.origins.get(spec.id)
    location = {"file": origin.file, "line": origin.line, "column": origin.column} if origin else None
    meas = tuple({"slice": m.slice, "metric": m.metric, "value": m.value, "count": m.count, **m.extra}
                 for m in sorted(finding.measurements, key=lambda m: (sorted(m.slice.items()), m.metric)))
    return RuleResult(spec.id, spec.kind, rule.code, status.value, spec.severity, finding.value,
                      dict(finding.bound), message, meas, finding.worst_slice, tuple(finding.notes),
                      location, waiver, spec.description, _summary(type(rule)))


def _summary(cls) -> str:
    doc = (cls.__doc__ or "").strip()
    return doc.splitlines()[0].strip() if doc else cls.kind


def _baseline_key(rule_id: str, worst_slice: dict | None) -> str:
    return json.dumps([rule_id, sorted((worst_slice or {}).items())], default=str)


def load_baseline(path: str | None) -> set[str]:
    if not path:
        return set()
    try:
        doc = json.loads(Path(path).read_text())
        return {_baseline_key(e["rule"], e.get("slice")) for e in doc["failures"]}
    except FileNotFoundError:
        raise InputError(f"baseline file not found: {path}") from None
    except (json.JSONDecodeError, KeyError, TypeError) as exc:
        raise InputError(f"baseline file {path} is not a rai-policy baseline ({exc})") from None


def baseline_document(report: Report) -> dict:
    """What `--write-baseline` stores: every failing (or baselined) rule with its worst slice."""
    failures = [{"rule": r.id, "slice": r.worst_slice}
                for r in report.rules
                if r.status == "fail" or (r.waiver and r.waiver.get("source") == "baseline")]
    return {"schema_version": "1.0", "failures": failures}


def verdict(results: list[RuleResult], fail_on: str) -> tuple[str, ExitCode]:
    statuses = {(r.status, _blocking(r.severity, fail_on)) for r in results}
    if any(s == "error" for s, _ in statuses):
        return "error", ExitCode.INVALID
    if ("fail", True) in statuses:
        return "fail", ExitCode.FAILED
    if ("not_evaluable", True) in statuses:
        return "not_evaluable", ExitCode.NOT_EVALUABLE
    return "pass", ExitCode.OK


def _subject_dict(subject: Subject) -> dict:
    return {"data": list(subject.data) if subject.data else ("<DataFrame>" if subject.frame is not None else None),
            "label": subject.label, "prediction": subject.prediction, "model": subject.model,
            "model_card": subject.model_card, "training": subject.training, "membership_data": subject.membership_data,
            "example_weight": subject.example_weight, "prediction_type": subject.prediction_type}


def run_check(loaded: LoadedPolicy, subject: Subject, options: CheckOptions | None = None) -> Report:
    """Evaluate a loaded policy against a subject and return the frozen report."""
    options = options or CheckOptions()
    started = dt.datetime.now(dt.timezone.utc).replace(microsecond=0).isoformat()
    t0 = time.perf_counter()
    baseline = load_baseline(options.baseline)
    rules = build_rules(loaded)
    requests = {req for rule in rules for req in rule.requests()}
    with _deadline(options.timeout):
        evidence, info = gather(requests, subject, options)
    results = [_final(rule, _evaluate(rule, evidence), loaded, options, baseline) for rule in rules]
    verdict_, code = verdict(results, options.fail_on)
    files = {"policy": loaded.files, "data": list(subject.data)}
    for role in ("model", "model_card", "training", "membership_data"):
        if getattr(subject, role):
            files[role] = [getattr(subject, role)]
    model = loaded.model
    return Report(
        verdict=verdict_, exit_code=int(code),
        policy={"name": model.name, "description": model.description, "path": loaded.path},
        rules=tuple(results), subject=_subject_dict(subject), evidence=_evidence_dict(info),
        provenance=provenance.manifest(files, options.argv, started, time.perf_counter() - t0),
        disabled=dict(loaded.disabled),
        baseline={"path": options.baseline} if options.baseline else None,
    )


def _evidence_dict(info: GatherInfo) -> dict:
    return {"engine": info.engine, "engine_reason": info.engine_reason, "rows": info.rows,
            "dropped_non_finite_predictions": info.dropped_non_finite, "tools": sorted(set(info.tools)),
            "notes": list(info.notes), "cache": info.cache, "model_card": info.model_card, "timings": {k: round(v, 3) for k, v in sorted(info.timings.items())}}


def error_report(message: str, policy_path: str | None, argv: list[str]) -> Report:
    """The report written when nothing could be evaluated (exit 2)."""
    return Report(verdict="error", exit_code=int(ExitCode.INVALID),
                  policy={"name": None, "description": None, "path": policy_path}, rules=(),
                  errors=(message,), provenance={"command": list(argv)})
