"""Helpers for test authors: run a policy from a test and assert on the outcome.

    from rai_policy.testing import assert_policy, check

    def test_fairness(scored_df):
        result = check("policies/compas_fairness.yaml", data=scored_df, engine="local")
        assert_policy(result, "fpr-gap-race")     # AssertionError lists the failing slices

Inside pytest the `rai_check` fixture (from the rai_policy plugin) returns `check`.  Readable
assertions:

* ``assert_policy(result)`` / ``assert_policy(result, rule_id)`` raise an `AssertionError` naming
  each failing rule, its finding, and its failing slices with value and bound;
* ``assert result`` and ``assert result.passed`` show ``repr(result)``, which lists the failing rules;
* ``assert result == "pass"`` compares the verdict (pass | fail | not_evaluable | error); when it
  fails, the plugin's `pytest_assertrepr_compare` explains it the way `assert_policy` does.

Importing this module imports neither TensorFlow nor pandas; `check` imports the engine when called.
"""
from __future__ import annotations

import datetime as dt
import math
from pathlib import Path

from rai_policy.report.model import Report, RuleResult

__all__ = ["RaiPolicyWarning", "Result", "assert_policy", "check", "describe_rule", "failing_slices"]

PASSING = ("pass", "waived")


class RaiPolicyWarning(UserWarning):
    """A rule failed whose severity does not block (status `warn`)."""


def _fmt(v) -> str:
    if isinstance(v, bool) or v is None:
        return str(v)
    if isinstance(v, float):
        return f"{v:.6g}" if math.isfinite(v) else str(v)
    return str(v)


def _slice_label(sl: dict | None) -> str:
    return ", ".join(f"{k}={v}" for k, v in (sl or {}).items()) or "overall"


def _measured(m: dict) -> str:
    n = f" (n={m['count']})" if m.get("count") is not None else ""
    return f"{m.get('metric')} {_fmt(m.get('value'))}{n}"


def _usable(m: dict) -> bool:
    return m.get("value") is not None and "excluded" not in m


def _wanted(spec) -> set | None:
    groups = getattr(spec, "wanted_groups", None)
    return set(groups()) if callable(groups) and groups() is not None else None


def failing_slices(rule: RuleResult, spec=None) -> list[str]:
    """One line per slice behind a failure, with its value and the bound it broke.

    Per-slice bounds (`min`/`max`, `min_share`/`min_count`) list every slice out of bounds; a gap
    or ratio (`max_gap`/`min_ratio`) lists the two slices that span it; a model card lists the
    missing fields.  `spec` (the rule's validated spec) narrows the slices to the rule's `groups`.
    """
    b, meas = rule.bound or {}, list(rule.measurements)
    wanted, feats = _wanted(spec), list(getattr(spec, "slice_by", None) or [])
    judged = [m for m in meas if _usable(m)
              and (wanted is None or tuple(str(m["slice"].get(f)) for f in feats) in wanted)]
    out = []
    if "min" in b or "max" in b:
        for m in judged:
            v = m["value"]
            if "min" in b and v < b["min"] - 1e-9:
                out.append(f"{_slice_label(m['slice'])}: {_measured(m)} < min {_fmt(b['min'])}")
            elif "max" in b and v > b["max"] + 1e-9:
                out.append(f"{_slice_label(m['slice'])}: {_measured(m)} > max {_fmt(b['max'])}")
    elif "min_share" in b:
        floors = b["min_share"]
        for m in judged:
            sl = m["slice"]
            group = str(next(iter(sl.values()), None))
            floor = {str(k): v for k, v in floors.items()}.get(group) if isinstance(floors, dict) else floors
            if floor is None:
                continue
            if m["value"] < floor - 1e-9:
                out.append(f"{_slice_label(sl)}: {_measured(m)} < min_share {_fmt(floor)}")
            elif b.get("min_count") is not None and (m.get("count") or 0) < b["min_count"]:
                out.append(f"{_slice_label(sl)}: count {m.get('count')} < min_count {b['min_count']}")
    elif "max_gap" in b or "min_ratio" in b:
        if len(judged) >= 2:
            hi = max(judged, key=lambda m: m["value"])
            lo = min(judged, key=lambda m: m["value"])
            out.append(f"{_slice_label(hi['slice'])}: {_measured(hi)} (highest)")
            out.append(f"{_slice_label(lo['slice'])}: {_measured(lo)} (lowest)")
            bounds = ", ".join(f"{k} {_fmt(v)}" for k, v in b.items())
            out.append(f"{'gap' if 'max_gap' in b else 'ratio'} {_fmt(rule.value)} vs {bounds}")
    elif "required" in b:
        out.extend(f"{m['slice'].get('field')}: missing or empty (required)" for m in meas if m.get("value") == 0.0)
    if not out and rule.worst_slice:
        out.append(f"{_slice_label(rule.worst_slice)}: value {_fmt(rule.value)} vs "
                   + (", ".join(f"{k} {_fmt(v)}" for k, v in b.items()) or "no bound"))
    return out


def _where(rule: RuleResult) -> str | None:
    loc = rule.location
    if not loc:
        return None
    return f"{loc['file']}:{loc['line']}" if loc.get("line") else str(loc["file"])


def describe_rule(rule: RuleResult, spec=None, indent: str = "  ") -> list[str]:
    """The lines shown for a non-passing rule (plugin failure text and `assert_policy` message)."""
    bound = ", ".join(f"{k} {_fmt(v)}" for k, v in (rule.bound or {}).items()) or "-"
    lines = [f"{rule.id} ({rule.kind}, {rule.code}, severity {rule.severity}): {rule.status.upper()}",
             f"{indent}{rule.message}"]
    if rule.value is not None or rule.bound:
        lines.append(f"{indent}measured: {_fmt(rule.value) if rule.value is not None else 'undefined'}   bound: {bound}")
    if rule.worst_slice:
        lines.append(f"{indent}slice: {rule.slice_label}")
    slices = failing_slices(rule, spec) if rule.status in ("fail", "warn", "waived") else []
    if slices:
        lines.append(f"{indent}failing slices:")
        lines.extend(f"{indent}  {s}" for s in slices)
    if rule.waiver:
        lines.append(f"{indent}{waiver_text(rule.waiver)}")
    if (where := _where(rule)) is not None:
        lines.append(f"{indent}policy: {where}")
    lines.extend(f"{indent}note: {n}" for n in rule.notes)
    if rule.description:
        lines.append(f"{indent}description: {rule.description}")
    return lines


def waiver_text(w: dict) -> str:
    who = f"approved by {w['approved_by']}" if w.get("approved_by") else w.get("source", "waiver")
    until = f", expires {w['expires']}" if w.get("expires") else ""
    return f"waived: {w.get('reason')} ({who}{until})"


class Result:
    """The outcome of `check`: the frozen `Report` plus convenience accessors.

    `passed` is True when the policy exits 0 (blocking rules pass; warnings and waivers allowed).
    ``result == "fail"`` compares the verdict; ``bool(result)`` is `passed`.
    """

    __hash__ = object.__hash__

    def __init__(self, report: Report, loaded=None, fail_on: str = "error"):
        self.report, self.loaded, self.fail_on = report, loaded, fail_on

    @property
    def passed(self) -> bool:
        return self.report.exit_code == 0

    @property
    def status(self) -> str:
        return self.report.verdict

    def __bool__(self) -> bool:
        return self.passed

    def __eq__(self, other):
        if isinstance(other, str):
            return self.report.verdict == other
        return NotImplemented

    def rule(self, rule_id: str) -> RuleResult:
        for r in self.report.rules:
            if r.id == rule_id:
                return r
        known = ", ".join(r.id for r in self.report.rules)
        raise KeyError(f"no rule '{rule_id}' in policy {self.report.policy.get('name')!r} (rules: {known})")

    def spec(self, rule_id: str):
        """The validated spec of a rule (None when the policy is not at hand)."""
        for s in getattr(self.loaded, "rules", None) or []:
            if s.id == rule_id:
                return s
        return None

    def _blocking(self, severity: str) -> bool:
        return severity == "error" or (self.fail_on == "warning" and severity == "warning")

    @property
    def failures(self) -> list[RuleResult]:
        """The rules that keep the policy from passing: fail, error, and blocking not_evaluable."""
        return [r for r in self.report.rules if r.status in ("fail", "error")
                or (r.status == "not_evaluable" and self._blocking(r.severity))]

    def explain(self, rules: list[RuleResult] | None = None) -> str:
        """The failing rules (or `rules`) with their findings and failing slices, as text."""
        name = self.report.policy.get("name") or self.report.policy.get("path")
        head = f"policy {name!r}: verdict {self.report.verdict} (exit {self.report.exit_code}); "
        if rules is None:
            rules = self.failures
            head += f"{len(rules)} of {len(self.report.rules)} rule(s) failing"
        else:
            head += "; ".join(f"rule {r.id} is {r.status}" for r in rules)
        body = [line for r in rules for line in describe_rule(r, self.spec(r.id), indent="    ")]
        errors = [f"  error: {e}" for e in self.report.errors]
        return "\n".join([head, *errors, *(f"  {line}" if not line.startswith(" ") else line for line in body)])

    def summary_lines(self) -> list[str]:
        """Two lines per failing rule (finding; failing slices): short enough for pytest's assert diff."""
        name = self.report.policy.get("name") or self.report.policy.get("path")
        out = [f"policy {name!r}: {len(self.failures)} of {len(self.report.rules)} rule(s) failing"]
        for r in self.failures:
            where = f" [{_where(r)}]" if _where(r) else ""
            out.append(f"  {r.id}: {r.status}: {r.message}{where}")
            if slices := failing_slices(r, self.spec(r.id)) if r.status == "fail" else []:
                out.append(f"    {'; '.join(slices)}")
        return out

    def __repr__(self) -> str:
        name = self.report.policy.get("name")
        failing = "; ".join(f"{r.id} {r.status}: {r.message}" for r in self.failures)
        return (f"<Result {name!r} {self.report.verdict.upper()} (exit {self.report.exit_code}, {self.report.counts()})"
                + (f" failing: {failing}" if failing else "") + ">")


def assert_policy(result: Result, rule_id: str | None = None) -> None:
    """Raise AssertionError unless the policy passes (or, with `rule_id`, that one rule holds).

    Without `rule_id` this is `result.passed`.  With it, the rule must be `pass` or `waived`: a
    `warn` (failed, non-blocking severity), `fail`, `error` or `not_evaluable` raises.
    """
    __tracebackhide__ = True  # pytest shows the caller's line, not this function's body
    if rule_id is None:
        if not result.passed:
            raise AssertionError(result.explain())
        return
    rule = result.rule(rule_id)
    if rule.status not in PASSING:
        raise AssertionError(result.explain([rule]))


def _load(policy, base_dir: Path):
    from rai_policy.policy.loader import load_policy, load_policy_text

    if isinstance(policy, dict):
        import yaml

        return load_policy_text(yaml.safe_dump(policy, sort_keys=False), "<dict policy>", base_dir), base_dir
    if isinstance(policy, str) and ("\n" in policy or policy.lstrip().startswith(("{", "version:"))):
        return load_policy_text(policy, "<policy text>", base_dir), base_dir
    if isinstance(policy, (str, Path)):
        return load_policy(policy), Path(policy).resolve().parent
    raise TypeError(f"policy must be a path, a dict or a YAML string, not {type(policy).__name__}")


def check(policy, *, data=None, label=None, prediction=None, model=None, model_card=None, training=None,
          engine: str = "auto", fail_on: str = "error", today: dt.date | None = None, **subject) -> Result:
    """Evaluate `policy` (path, dict or YAML string) and return a `Result`.

    `data` is a path (or list of paths) or an in-memory pandas DataFrame; the other subject
    arguments override the policy's `subject:` block (paths relative to the working directory,
    the policy's own relative to its file).  Extra keywords: signature, example_weight,
    positive_label, prediction_type, drop_non_finite_predictions.  A broken policy raises
    `PolicyError`, an unusable input `InputError`.
    """
    from dataclasses import fields, replace

    from rai_policy import engine as eng
    from rai_policy.subject import Subject, resolve

    known = {f.name for f in fields(Subject)} - {"data", "frame"}
    unknown = sorted(set(subject) - known)
    if unknown:
        raise TypeError(f"check() got unknown subject keyword(s) {unknown}; known: {sorted(known)}")
    if engine not in ("auto", "local", "tfma"):
        raise ValueError(f"engine must be auto, local or tfma, not {engine!r}")
    loaded, policy_dir = _load(policy, Path.cwd())
    frame = None
    if isinstance(data, (list, tuple)):
        data = tuple(str(p) for p in data)
    elif isinstance(data, (str, Path)):
        data = (str(data),)
    elif data is not None:  # an in-memory table (pandas DataFrame); passed beside resolve()
        frame, data = data, None
    subj = resolve(loaded.model.subject, policy_dir, data=data, label=label, prediction=prediction, model=model,
                   model_card=model_card, training=training, **subject)
    if frame is not None:
        subj = replace(subj, data=(), frame=frame)
    options = eng.CheckOptions(engine=engine, fail_on=fail_on, today=today, argv=["rai_policy.testing.check"])
    return Result(eng.run_check(loaded, subj, options), loaded, fail_on)
