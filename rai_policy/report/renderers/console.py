"""Console: one line per rule (status, id, value vs bound, worst slice), then a summary."""
from __future__ import annotations

import os

COLORS = {"pass": "32", "fail": "31", "error": "31;1", "warn": "33", "not_evaluable": "35", "waived": "36"}
LABELS = {"pass": "PASS", "fail": "FAIL", "error": "ERROR", "warn": "WARN", "not_evaluable": "N/A",
          "waived": "WAIVED"}


def _paint(text: str, status: str, color: bool) -> str:
    return f"\033[{COLORS.get(status, '0')}m{text}\033[0m" if color else text


def _where(rule) -> str:
    loc = rule.location
    if not loc:
        return ""
    shown = loc["file"]
    if os.path.isabs(shown) and not os.path.relpath(shown).startswith(".."):
        shown = os.path.relpath(shown)
    return f"  [{shown}:{loc['line']}]"


def render(report, color: bool = False, verbose: bool = False) -> str:
    lines = []
    name = report.policy.get("name") or report.policy.get("path") or "policy"
    lines.append(f"rai-policy: {name}")
    for err in report.errors:
        lines.append(_paint("error: ", "error", color) + err)
    width = max((len(r.id) for r in report.rules), default=0)
    for r in report.rules:
        label = _paint(f"{LABELS[r.status]:<6}", r.status, color)
        lines.append(f"{label} {r.id:<{width}}  {r.message}{_where(r)}")
        if r.waiver:
            w = r.waiver
            who = f", approved by {w['approved_by']}" if w.get("approved_by") else ""
            until = f", until {w['expires']}" if w.get("expires") else ""
            lines.append(f"       {'':<{width}}  waived: {w['reason']}{who}{until}")
        if verbose or r.status in ("fail", "warn", "not_evaluable", "error", "waived"):
            for note in r.notes:
                lines.append(f"       {'':<{width}}  note: {note}")
    for rid, why in sorted(report.disabled.items()):
        lines.append(f"{'OFF':<6} {rid:<{width}}  disabled: {why}")
    ev = report.evidence or {}
    for note in ev.get("notes") or []:
        lines.append(f"note: {note}")
    counts = ", ".join(f"{n} {s}" for s, n in report.counts().items())
    engine = f"; slice metrics: {ev['engine']}" if ev.get("engine") else ""
    rows = f" on {ev['rows']:,} rows" if ev.get("rows") else ""
    secs = report.provenance.get("duration_seconds")
    took = f"; {secs:.1f} s" if isinstance(secs, (int, float)) else ""
    lines.append("")
    lines.append(_paint(f"verdict: {report.verdict.upper()} (exit {report.exit_code})", report.verdict, color)
                 + (f" — {counts}" if counts else "") + f"{rows}{engine}{took}")
    return "\n".join(lines) + "\n"
