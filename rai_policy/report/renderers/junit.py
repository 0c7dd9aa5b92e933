"""JUnit XML: one testsuite for the policy, one testcase per rule (classname = policy, name = rule id).

fail → <failure>, error → <error> (a missing metric is an error, never a skip), not_evaluable and
waived → <skipped>, warn → a passing testcase with a <system-out> note.  Disabled rules appear as
skipped testcases and report-level errors as an <error> testcase, so a broken run never reads as
green.  The suite's properties carry the provenance (inputs' sha256, tool versions, command).
"""
from __future__ import annotations

import xml.etree.ElementTree as ET

from rai_policy.report.renderers._text import (
    STATUS_WORDS,
    bound_text,
    command_text,
    measurement_lines,
    num,
    slice_text,
    waiver_text,
    where,
    xml_safe,
)


def _el(parent, tag: str, text: str | None = None, **attrs) -> ET.Element:
    e = ET.SubElement(parent, tag, {k: xml_safe(v) for k, v in attrs.items() if v is not None})
    if text:
        e.text = xml_safe(text)
    return e


def _details(rule) -> str:
    lines = [rule.message]
    if rule.worst_slice:
        lines.append(f"worst slice: {slice_text(rule.worst_slice)}")
    lines.append(f"value: {num(rule.value)}; bound: {bound_text(rule.bound) or '—'}")
    if loc := where(rule.location):
        lines.append(f"policy: {loc}")
    if rule.measurements:
        lines.append("measurements:")
        lines.extend(f"  {m}" for m in measurement_lines(rule))
    lines.extend(f"note: {n}" for n in rule.notes)
    return "\n".join(lines) + "\n"


def _testcase(suite, classname: str, rule) -> None:
    loc = rule.location or {}
    case = _el(suite, "testcase", classname=classname, name=rule.id, time="0",
               file=where({"file": loc.get("file")}) or None, line=str(loc["line"]) if loc.get("line") else None)
    status = rule.status
    if status == "fail":
        _el(case, "failure", _details(rule), message=rule.message, type=rule.kind)
    elif status == "error":
        _el(case, "error", _details(rule), message=rule.message, type=rule.kind)
    elif status == "not_evaluable":
        _el(case, "skipped", _details(rule), message=f"not evaluable: {rule.message}")
    elif status == "waived":
        _el(case, "skipped", _details(rule), message=f"waived: {waiver_text(rule.waiver)}")
    out = f"{STATUS_WORDS.get(status, status.upper())} [{rule.code}, severity {rule.severity}]: {rule.message}\n"
    if status == "warn":
        out += (f"warning only: the rule failed but severity '{rule.severity}' does not block this run\n"
                + _details(rule))
    elif status == "pass":
        out += "".join(f"note: {n}\n" for n in rule.notes)
    _el(case, "system-out", out)


def render(report) -> str:
    name = report.policy.get("name") or report.policy.get("path") or "policy"
    statuses = [r.status for r in report.rules]
    n_errors = statuses.count("error") + (1 if report.errors else 0)
    n_skipped = sum(s in ("not_evaluable", "waived") for s in statuses) + len(report.disabled)
    tests = len(statuses) + (1 if report.errors else 0) + len(report.disabled)
    duration = report.provenance.get("duration_seconds")
    totals = {"tests": str(tests), "failures": str(statuses.count("fail")), "errors": str(n_errors),
              "skipped": str(n_skipped), "time": num(duration) if isinstance(duration, (int, float)) else "0"}
    root = ET.Element("testsuites", {"name": "rai-policy", **totals})
    suite = _el(root, "testsuite", name=name, **totals, timestamp=report.provenance.get("started"))

    props = _el(suite, "properties")
    _el(props, "property", name="verdict", value=report.verdict)
    _el(props, "property", name="exit_code", value=str(report.exit_code))
    if report.policy.get("path"):
        _el(props, "property", name="policy", value=report.policy["path"])
    for inp in report.provenance.get("inputs", []):
        _el(props, "property", name=f"sha256:{inp.get('role')}:{inp.get('path')}", value=inp.get("sha256") or "missing")
    for tool, version in sorted((report.provenance.get("versions") or {}).items()):
        _el(props, "property", name=f"version:{tool}", value=version or "not installed")
    if report.provenance.get("command"):
        _el(props, "property", name="command", value=command_text(report.provenance["command"]))
    if report.evidence.get("engine"):
        _el(props, "property", name="engine", value=report.evidence["engine"])

    if report.errors:
        case = _el(suite, "testcase", classname=name, name="(policy)", time="0")
        text = "\n".join(report.errors) + "\n"
        _el(case, "error", text, message=report.errors[0], type="policy_error")
    for rule in report.rules:
        _testcase(suite, name, rule)
    for rid, why in sorted(report.disabled.items()):
        case = _el(suite, "testcase", classname=name, name=rid, time="0")
        _el(case, "skipped", message=f"disabled: {why}")

    ET.indent(root, space="  ")
    return '<?xml version="1.0" encoding="UTF-8"?>\n' + ET.tostring(root, encoding="unicode") + "\n"
