"""Markdown: a PR-comment / GitHub step-summary sized digest (template `reports_templates/summary.md.j2`).

Verdict line, a table of the rules that need attention (fail, error, not evaluable, warn), the
waivers, counts, and where the full reports are.  Every cell is escaped: `|`, markdown syntax and
HTML in slice values or messages stay literal text.
"""
from __future__ import annotations

import re
from functools import lru_cache

from rai_policy.report.renderers._text import (
    STATUS_ORDER,
    STATUS_WORDS,
    VERDICT_WORDS,
    bound_text,
    count,
    num,
    slice_text,
    sorted_rules,
    templates_dir,
    waiver_text,
    where,
)

MAX_ROWS = 50  # rows per table; a PR comment stays far below GitHub's 65,536-character limit
MAX_CELL = 300  # characters per cell
ATTENTION = ("error", "fail", "not_evaluable", "warn")
_MD_SPECIAL = re.compile(r"([\\`*_{}\[\]|~])")


def md(text, limit: int = MAX_CELL) -> str:
    """Cell text: one line, at most `limit` characters, markdown and HTML neutralised."""
    s = " ".join(str("" if text is None else text).split())
    if len(s) > limit:
        s = s[: limit - 1].rstrip() + "…"
    s = s.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    return _MD_SPECIAL.sub(r"\\\1", s)


def code(text) -> str:
    """An identifier in backticks (a backtick inside falls back to escaped text)."""
    s = " ".join(str(text).split())
    return f"`{s}`" if "`" not in s and s else md(s)


@lru_cache(maxsize=1)
def _environment():
    from jinja2 import Environment, FileSystemLoader, StrictUndefined

    env = Environment(loader=FileSystemLoader(str(templates_dir())), autoescape=False, undefined=StrictUndefined,
                      trim_blocks=True, lstrip_blocks=True, keep_trailing_newline=True)
    env.filters.update(md=md, code=code)
    return env


def _report_files(argv) -> list[tuple[str, str]]:
    """The (format, path) pairs the run was asked to write (`--report FORMAT=PATH` in its command)."""
    out, args = [], [str(a) for a in (argv or [])]
    for i, a in enumerate(args):
        value = args[i + 1] if a == "--report" and i + 1 < len(args) else a[9:] if a.startswith("--report=") else None
        if value and "=" in value:
            fmt, _, path = value.partition("=")
            if fmt != "markdown":  # this summary itself
                out.append((fmt, path))
    return out


def context(report) -> dict:
    attention = [r for r in sorted_rules(report.rules) if r.status in ATTENTION]
    waived = [r for r in report.rules if r.waiver]
    counts = report.counts()
    return {
        "report": report,
        "name": report.policy.get("name") or report.policy.get("path") or "policy",
        "verdict_word": VERDICT_WORDS.get(report.verdict, report.verdict.upper()),
        "counts": [(STATUS_WORDS.get(s, s).lower(), counts[s]) for s in STATUS_ORDER if s in counts],
        "total": len(report.rules),
        "rows": [{"status": STATUS_WORDS.get(r.status, r.status), "id": r.id, "slice": slice_text(r.worst_slice)
                  if r.worst_slice else "—", "value": num(r.value), "bound": bound_text(r.bound) or "—",
                  "message": r.message, "where": where(r.location) or "—"} for r in attention[:MAX_ROWS]],
        "more_rows": max(0, len(attention) - MAX_ROWS),
        "waivers": [{"id": r.id, "slice": slice_text(r.waiver.get("slice")) if r.waiver.get("slice") else "all",
                     "reason": r.waiver.get("reason") or "", "approved_by": r.waiver.get("approved_by") or "—",
                     "expires": r.waiver.get("expires") or "—", "source": r.waiver.get("source") or "policy",
                     "text": waiver_text(r.waiver)} for r in waived[:MAX_ROWS]],
        "more_waivers": max(0, len(waived) - MAX_ROWS),
        "passed": [r.id for r in report.rules if r.status == "pass"],
        "disabled": sorted(report.disabled.items()),
        "rows_evaluated": count(report.evidence["rows"]) if report.evidence.get("rows") else None,
        "policy_file": where({"file": report.policy.get("path")}) if report.policy.get("path") else None,
        "report_files": _report_files(report.provenance.get("command")),
    }


def render(report) -> str:
    return _environment().get_template("summary.md.j2").render(**context(report))
