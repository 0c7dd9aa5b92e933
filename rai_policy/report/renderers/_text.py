"""Plain-text pieces the junit, sarif, markdown and html renderers share: how a number, a bound, a
slice and a policy location are spelled.  Formatting only: nothing here judges a rule."""
from __future__ import annotations

import math
import os
import re

STATUS_WORDS = {"pass": "PASS", "fail": "FAIL", "warn": "WARN", "error": "ERROR",
                "not_evaluable": "NOT EVALUABLE", "waived": "WAIVED"}
VERDICT_WORDS = {"pass": "PASS", "fail": "FAIL", "error": "ERROR", "not_evaluable": "NOT EVALUABLE"}
# The order rules are listed in: the ones needing attention first.
STATUS_ORDER = ("error", "fail", "not_evaluable", "warn", "waived", "pass")

_BOUND_WORDS = {
    "min": "≥ {v}", "max": "≤ {v}", "max_gap": "gap ≤ {v}", "min_ratio": "ratio ≥ {v}",
    "min_share": "share ≥ {v}", "max_share": "share ≤ {v}", "min_count": "count ≥ {v}",
    "max_epsilon": "ε ≤ {v}", "delta": "δ = {v}", "accountant": "{v} accountant",
}
# XML 1.0 forbids these code points even as character references.
_XML_ILLEGAL = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]")


def num(x, digits: int = 6) -> str:
    """A measured number as the messages spell it (6 significant digits); '—' when undefined."""
    if x is None or isinstance(x, bool):
        return "—" if x is None else str(x).lower()
    if isinstance(x, int):
        return str(x)
    if isinstance(x, float):
        if not math.isfinite(x):
            return "—"
        if x.is_integer() and abs(x) < 1e15:
            return str(int(x))
        return f"{x:.{digits}g}"
    return str(x)


def count(x) -> str:
    """A row count with thousands separators."""
    if isinstance(x, float) and x.is_integer():
        x = int(x)
    return f"{x:,}" if isinstance(x, int) and not isinstance(x, bool) else num(x)


def _value(v) -> str:
    if isinstance(v, (list, tuple)):
        return ", ".join(_value(x) for x in v)
    if isinstance(v, dict):
        return ", ".join(f"{k} {_value(x)}" for k, x in v.items())
    return num(v)


def bound_text(bound: dict | None) -> str:
    """{'max_gap': 0.05} → 'gap ≤ 0.05'; unknown keys as 'key value'."""
    parts = []
    for key, v in (bound or {}).items():
        if key == "required":
            parts.append("required: " + _value(v))
        elif key in ("min_share", "max_share") and isinstance(v, dict):
            parts.append(f"{key.split('_')[0]} share: " + ", ".join(f"{g} {num(x)}" for g, x in v.items()))
        elif key in _BOUND_WORDS:
            parts.append(_BOUND_WORDS[key].format(v=_value(v)))
        else:
            parts.append(f"{key} {_value(v)}")
    return "; ".join(parts)


def slice_text(sl: dict | None) -> str:
    """{'race': 'Caucasian'} → 'race=Caucasian'; {} or None → 'overall'."""
    if not sl:
        return "overall"
    return ", ".join(f"{k}={v}" for k, v in sl.items())


def group_text(sl: dict | None) -> str:
    """The group a bar stands for: its values only ('African-American & Female')."""
    if not sl:
        return "overall"
    return " & ".join(str(v) for v in sl.values())


def rel_path(path: str | None) -> str:
    """A policy path relative to the working directory when it lies below it (as the console shows it)."""
    if not path:
        return ""
    if os.path.isabs(path):
        rel = os.path.relpath(path)
        return path if rel.startswith("..") else rel.replace(os.sep, "/")
    return path.replace(os.sep, "/")


def where(location: dict | None) -> str:
    """'policies/x.yaml:11' for a rule location, '' when unknown."""
    if not location or not location.get("file"):
        return ""
    line = f":{location['line']}" if location.get("line") else ""
    return f"{rel_path(location['file'])}{line}"


def waiver_text(w: dict | None) -> str:
    """'reason (approved by X, expires 2027-01-01)' for a waiver dict."""
    if not w:
        return ""
    extra = []
    if w.get("approved_by"):
        extra.append(f"approved by {w['approved_by']}")
    if w.get("expires"):
        extra.append(f"expires {w['expires']}")
    if w.get("slice"):
        extra.append(f"slice {slice_text(w['slice'])}")
    if w.get("source") == "baseline":
        extra.append("from the baseline")
    return (w.get("reason") or "waived") + (f" ({', '.join(extra)})" if extra else "")


def xml_safe(text) -> str:
    """Text XML 1.0 can hold: forbidden control characters become U+FFFD."""
    return _XML_ILLEGAL.sub("\ufffd", "" if text is None else str(text))


def sorted_rules(rules) -> list:
    """Rules needing attention first, policy order kept within a status."""
    rank = {s: i for i, s in enumerate(STATUS_ORDER)}
    return sorted(rules, key=lambda r: rank.get(r.status, len(rank)))


def measurement_lines(rule) -> list[str]:
    """One line per measurement: 'race=Caucasian: false_positive_rate 0.234543 (n=2454)'."""
    out = []
    worst = rule.worst_slice or None
    for m in rule.measurements:
        extra = []
        if m.get("count") is not None:
            extra.append(f"n={count(m['count'])}")
        if m.get("numerator") is not None and m.get("denominator") is not None:
            extra.append(f"{count(m['numerator'])}/{count(m['denominator'])}")
        if m.get("undefined_reason"):
            extra.append(f"undefined: {m['undefined_reason']}")
        if m.get("excluded"):
            extra.append(f"excluded: {m['excluded']}")
        if worst and m.get("slice") == worst:
            extra.append("worst")
        tail = f" ({'; '.join(extra)})" if extra else ""
        out.append(f"{slice_text(m.get('slice'))}: {m.get('metric')} {num(m.get('value'))}{tail}")
    return out


def templates_dir():
    """The `reports_templates/` folder holding the Jinja2 templates (see rai_policy.resources)."""
    from rai_policy.resources import resource_dir

    return resource_dir("reports_templates")


def command_text(argv) -> str:
    import shlex

    return shlex.join(str(a) for a in argv) if argv else ""
