"""SARIF 2.1.0 for GitHub code scanning: one reporting descriptor per rule, one result per rule that
did not plainly pass, located at the rule's line in its policy file.

Levels: fail/warn follow the rule's severity (error → error, warning → warning, info → note), an
error is always `error`, not_evaluable is `note`, and a waived failure keeps its level and carries a
`suppressions` entry with the waiver's justification (GitHub shows it as dismissed).
`partialFingerprints` hash the policy file, rule id and kind only, so an alert keeps its identity
when values or line numbers change.
"""
from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path
from urllib.parse import quote

from rai_policy.report.model import clean
from rai_policy.report.renderers._text import STATUS_WORDS, bound_text, command_text, rel_path, slice_text, waiver_text

SCHEMA_URI = "https://json.schemastore.org/sarif-2.1.0.json"
SEVERITY_LEVEL = {"error": "error", "warning": "warning", "info": "note"}
REPORTED = ("fail", "warn", "error", "not_evaluable", "waived")
FINGERPRINT_KEY = "raiPolicyRule/v1"


def _static_info() -> tuple[str, str | None]:
    """The tool's own version and home page (package metadata: static text, not a measurement)."""
    from importlib.metadata import PackageNotFoundError, metadata

    from rai_policy import __version__

    try:
        md = metadata("rai-policy")
    except PackageNotFoundError:
        return __version__, None
    urls = dict(u.split(", ", 1) for u in (md.get_all("Project-URL") or []) if ", " in u)
    home = next((urls[k] for k in ("Homepage", "Documentation", "Repository", "Source") if k in urls),
                md.get("Home-page"))
    return __version__, home


def _summary(kind: str) -> str:
    """First line of the rule kind's docstring (static documentation text)."""
    try:
        from rai_policy.rules.registry import rule_kinds

        cls = rule_kinds().get(kind)
    except Exception:  # noqa: BLE001 - a renderer must not fail because a plugin is missing
        cls = None
    doc = (cls.__doc__ or "").strip() if cls else ""
    return doc.splitlines()[0].strip() if doc else f"rai-policy rule kind '{kind}'"


def _artifact(path: str | None) -> dict:
    """An artifactLocation: relative to %SRCROOT% (the checkout) when the file lies below the working
    directory, else an absolute file URI."""
    if not path:
        return {"uri": "policy.yaml", "uriBaseId": "%SRCROOT%"}
    rel = rel_path(path)
    if os.path.isabs(rel):
        return {"uri": Path(rel).as_uri()}
    return {"uri": quote(rel), "uriBaseId": "%SRCROOT%"}


def _location(rule, policy_path: str | None) -> dict:
    loc = rule.location or {}
    region = {"startLine": int(loc.get("line") or 1)}
    if loc.get("column"):
        region["startColumn"] = int(loc["column"])
    return {"physicalLocation": {"artifactLocation": _artifact(loc.get("file") or policy_path), "region": region}}


def _level(rule) -> str:
    if rule.status == "error":
        return "error"
    if rule.status == "not_evaluable":
        return "note"
    return SEVERITY_LEVEL.get(rule.severity, "warning")


def _fingerprint(policy_path: str | None, rule) -> str:
    file = rel_path((rule.location or {}).get("file") or policy_path or "")
    return hashlib.sha256(f"{file}\0{rule.id}\0{rule.kind}".encode()).hexdigest()


def _descriptor(rule) -> dict:
    summary = rule.summary or _summary(rule.kind)
    help_text = (f"{summary}\n\nRule '{rule.id}' ({rule.code}, kind {rule.kind}); bound: {bound_text(rule.bound) or '—'}."
                 + (f"\n\n{rule.description}" if rule.description else "")
                 + f"\n\nRun `rai-policy explain {rule.code}` for the full documentation.")
    return {
        "id": rule.id,
        "name": rule.kind,
        "shortDescription": {"text": rule.description or f"{rule.id}: {summary}"},
        "fullDescription": {"text": summary},
        "help": {"text": help_text},
        "defaultConfiguration": {"level": SEVERITY_LEVEL.get(rule.severity, "warning")},
        "properties": {"code": rule.code, "kind": rule.kind, "severity": rule.severity,
                       "tags": ["responsible-ai", rule.kind]},
    }


def _message(rule) -> str:
    text = f"{STATUS_WORDS.get(rule.status, rule.status)}: {rule.message}"
    if rule.worst_slice:
        text += f" [slice {slice_text(rule.worst_slice)}]"
    if rule.status == "waived":
        text += f" — waived: {waiver_text(rule.waiver)}"
    if rule.status == "warn":
        text += f" (severity {rule.severity}: does not block)"
    return text


def _result(index: int, rule, policy_path: str | None) -> dict:
    res = {
        "ruleId": rule.id,
        "ruleIndex": index,
        "level": _level(rule),
        "message": {"text": _message(rule)},
        "locations": [_location(rule, policy_path)],
        "partialFingerprints": {FINGERPRINT_KEY: _fingerprint(policy_path, rule)},
        "properties": {"status": rule.status, "code": rule.code, "value": rule.value, "bound": rule.bound,
                       "worstSlice": rule.worst_slice, "notes": list(rule.notes)},
    }
    if rule.status == "not_evaluable":
        res["kind"] = "review"  # could not be judged: a person has to look
    if rule.status == "waived" and rule.waiver:
        source = rule.waiver.get("source")
        res["suppressions"] = [{"kind": "inSource" if source == "policy" else "external",
                                "status": "accepted", "justification": waiver_text(rule.waiver)}]
    return res


def _artifacts(report) -> list[dict]:
    out = []
    for inp in report.provenance.get("inputs", []):
        art = {"location": _artifact(inp.get("path")), "roles": ["analysisTarget"] if inp.get("role") == "policy" else [],
               "properties": {"role": inp.get("role")}}
        if inp.get("sha256"):
            art["hashes"] = {"sha-256": inp["sha256"]}
        if not art["roles"]:
            del art["roles"]
        out.append(art)
    return out


def _invocation(report) -> dict:
    prov = report.provenance
    inv = {"executionSuccessful": not report.errors, "exitCode": int(report.exit_code)}
    if prov.get("command"):
        inv["commandLine"] = command_text(prov["command"])
        inv["arguments"] = [str(a) for a in prov["command"][1:]]
    if prov.get("started"):
        inv["startTimeUtc"] = str(prov["started"]).replace("+00:00", "Z")
    if report.errors:
        inv["toolExecutionNotifications"] = [{"level": "error", "message": {"text": e}} for e in report.errors]
    return inv


def render(report) -> str:
    version, home = _static_info()
    version = (report.provenance.get("versions") or {}).get("rai-policy") or version
    policy_path = report.policy.get("path")
    rules = list(report.rules)
    driver = {"name": "rai-policy", "version": version, "semanticVersion": version}
    if home:
        driver["informationUri"] = home
    driver["rules"] = [_descriptor(r) for r in rules]
    run = {
        "tool": {"driver": driver},
        "automationDetails": {"id": f"rai-policy/{report.policy.get('name') or 'policy'}/"},
        "invocations": [_invocation(report)],
        "artifacts": _artifacts(report),
        "results": [_result(i, r, policy_path) for i, r in enumerate(rules) if r.status in REPORTED],
        "columnKind": "unicodeCodePoints",
        "properties": {"verdict": report.verdict, "policy": report.policy.get("name"),
                       "policyFile": rel_path(policy_path) if policy_path else None, "summary": report.counts(),
                       "disabled": dict(sorted(report.disabled.items())), "schemaVersion": report.schema_version},
    }
    if not run["artifacts"]:
        del run["artifacts"]
    doc = {"$schema": SCHEMA_URI, "version": "2.1.0", "runs": [run]}
    return json.dumps(clean(doc), indent=2, ensure_ascii=False, allow_nan=False, default=str) + "\n"

