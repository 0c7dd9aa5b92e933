"""HTML: the self-contained sign-off report (template `reports_templates/report.html.j2`).

No network and no script: inline CSS, inline SVG charts, system fonts, and a Content-Security-Policy
that forbids scripts.  Jinja2 autoescapes every value, so a slice value such as
`<script>alert(1)</script>` is shown as text.  This module computes chart geometry only; every number
shown comes from the report.
"""
from __future__ import annotations

import math
from functools import lru_cache

from rai_policy.report.renderers._text import (
    STATUS_ORDER,
    STATUS_WORDS,
    VERDICT_WORDS,
    bound_text,
    command_text,
    count,
    group_text,
    num,
    rel_path,
    slice_text,
    sorted_rules,
    templates_dir,
    waiver_text,
    where,
)

VERDICT_LINES = {
    "pass": "Every blocking rule passed.",
    "fail": "At least one blocking rule failed.",
    "not_evaluable": "At least one blocking rule could not be evaluated. Not evaluable is not a pass.",
    "error": "The policy or its evidence is broken: this run cannot support a sign-off.",
}
NO_CHART_KINDS = {"model_card", "dp_budget"}
MEASUREMENT_COLUMNS = ("count", "numerator", "denominator", "tp", "fp", "tn", "fn", "threshold", "engine", "tool")
HIDDEN_COLUMNS = {"slice", "metric", "value", "undefined_reason", "excluded", "judged"}
DP_FIELDS = ("accountant", "sampling", "steps", "steps_source", "sampling_rate", "noise_multiplier",
             "effective_noise_multiplier", "optimal_order", "delta")
MAX_BARS = 40
TOL = 1e-9

# chart layout (px)
CHART_W, LABEL_W, VALUE_W, TOP, BAR_H, BAR_GAP, AXIS_H = 800, 200, 180, 34, 20, 9, 46


def _number(x) -> float | None:
    return float(x) if isinstance(x, (int, float)) and not isinstance(x, bool) and math.isfinite(x) else None


def nice_max(v: float) -> float:
    """The smallest 1/2/2.5/5 × 10^k at or above v (the axis end)."""
    if v <= 0:
        return 1.0
    step = 10 ** math.floor(math.log10(v))
    for m in (1, 2, 2.5, 5, 10):
        if m * step >= v * (1 - 1e-12):
            return m * step
    return 10 * step


def _judged(m: dict) -> bool:
    return m.get("judged", True) is not False and not m.get("excluded") and _number(m.get("value")) is not None


def _gap_pair(rule, bars) -> tuple[dict, dict] | None:
    """The two groups a slice_gap compared: from the measurements' `judged` flags when the report carries
    them, else the worst slice and the group whose value lies the reported gap (or ratio) away from it."""
    judged = [b for b in bars if b["judged"]]
    if any("judged" in m for m in rule.measurements) and len(judged) >= 2:
        return min(judged, key=lambda b: b["value"]), max(judged, key=lambda b: b["value"])
    worst = next((b for b in judged if rule.worst_slice and b["slice"] == rule.worst_slice), None)
    value = _number(rule.value)
    if worst is None or value is None:
        return None
    w = worst["value"]
    if "max_gap" in rule.bound:
        targets = (w - value, w + value)
    else:  # value is the ratio min / max
        targets = (w * value, w / value if value else math.inf)
    for b in judged:
        if b is not worst and any(abs(b["value"] - t) <= 1e-9 * max(1.0, abs(t)) for t in targets):
            return (b, worst) if b["value"] <= w else (worst, b)
    return None


def _short(label: str, limit: int = 28) -> str:
    """A bar label that fits the label column (the full text stays in the bar's tooltip)."""
    return label if len(label) <= limit else label[: limit - 1] + "…"


def chart(rule) -> dict | None:
    """Horizontal bars per group with the bound drawn in; None when the rule has no per-slice numbers."""
    if rule.kind in NO_CHART_KINDS:
        return None
    meas = [m for m in rule.measurements if m.get("slice")]
    if not meas or all(_number(m.get("value")) is None for m in meas):
        return None
    shown = meas[:MAX_BARS]
    bars = [{"slice": m["slice"], "label": group_text(m["slice"]), "short": _short(group_text(m["slice"])),
             "value": _number(m.get("value")),
             "count": m.get("count"), "judged": _judged(m),
             "note": m.get("undefined_reason") or m.get("excluded") or ("not judged" if m.get("judged") is False else "")}
            for m in shown]
    bound = rule.bound or {}
    lines, band, markers, caption = [], None, {}, []
    pair = None
    if rule.kind == "slice_gap" or {"max_gap", "min_ratio"} & set(bound):
        pair = _gap_pair(rule, bars)
        if pair:
            lo, hi = pair
            if _number(bound.get("max_gap")) is not None:
                band = (lo["value"], lo["value"] + bound["max_gap"],
                        f"allowed: up to {num(bound['max_gap'])} above {lo['label']} ({num(lo['value'])})")
            if _number(bound.get("min_ratio")) is not None:
                lines.append((hi["value"] * bound["min_ratio"], f"min_ratio {num(bound['min_ratio'])} × {hi['label']}"))
            caption.append(f"Compared: {hi['label']} {num(hi['value'])} vs {lo['label']} {num(lo['value'])}; "
                           f"gap {num(hi['value'] - lo['value'])}.")
        else:
            caption.append(f"Bound: {bound_text(bound)} between the compared groups (see the message).")
    for key, word in (("min", "min"), ("max", "max"), ("min_share", "min share"), ("max_share", "max share")):
        v = bound.get(key)
        if _number(v) is not None:
            lines.append((float(v), f"{word} {num(v)}"))
        elif isinstance(v, dict):
            for g, x in v.items():
                if _number(x) is not None:
                    markers[str(g)] = (float(x), f"{word} {num(x)}")
    values = [b["value"] for b in bars if b["value"] is not None]
    ends = values + [x for x, _ in lines] + [x for x, _ in markers.values()] + ([band[1]] if band else [])
    lo_end = min(0.0, min(ends))
    hi_end = nice_max(max(ends)) if max(ends) > 0 else 1.0
    plot_w = CHART_W - LABEL_W - VALUE_W
    span = hi_end - lo_end or 1.0

    def x(v: float) -> float:
        return round(LABEL_W + (min(max(v, lo_end), hi_end) - lo_end) / span * plot_w, 2)

    worst = rule.worst_slice
    pair_slices = [p["slice"] for p in pair] if pair else []
    for i, b in enumerate(bars):
        b["y"] = TOP + i * (BAR_H + BAR_GAP)
        b["x0"] = x(0.0)
        b["w"] = round(x(b["value"]) - x(0.0), 2) if b["value"] is not None else 0
        b["text"] = num(b["value"]) if b["value"] is not None else "undefined"
        b["n"] = f"n={count(b['count'])}" if b["count"] is not None else ""
        b["cls"] = ("worst" if worst and b["slice"] == worst else "compared" if b["slice"] in pair_slices
                    else "other" if b["judged"] else "excluded")
        mk = markers.get(b["label"])
        b["marker"] = {"x": x(mk[0]), "label": mk[1]} if mk else None
    plot_h = len(bars) * (BAR_H + BAR_GAP) - BAR_GAP
    ticks = [lo_end + span * k / 5 for k in range(6)]
    metric = meas[0].get("metric") or "value"
    threshold = meas[0].get("threshold")
    return {
        "width": CHART_W, "height": TOP + plot_h + AXIS_H, "top": TOP, "plot_h": plot_h, "bottom": TOP + plot_h,
        "left": LABEL_W, "right": LABEL_W + plot_w, "value_x": LABEL_W + plot_w + 8, "bar_h": BAR_H, "bars": bars,
        "ticks": [{"x": x(t), "label": num(round(t, 10), 4)} for t in ticks],
        "lines": [{"x": x(v), "label": label} for v, label in lines],
        "band": {"x0": x(band[0]), "x1": x(band[1]), "label": band[2]} if band else None,
        "x_title": metric.replace("_", " ") + (f" (decision threshold {num(threshold)})" if threshold is not None else ""),
        "y_title": ", ".join(meas[0]["slice"].keys()),
        "caption": " ".join(caption),
        "more": max(0, len(meas) - MAX_BARS),
        "has_worst": any(b["cls"] == "worst" for b in bars), "has_markers": bool(markers),
        "has_compared": any(b["cls"] == "compared" for b in bars),
        "title": f"{rule.id}: {metric.replace('_', ' ')} by {', '.join(meas[0]['slice'].keys())}",
    }


def _columns(measurements) -> list[str]:
    keys = []
    for m in measurements:
        keys.extend(k for k in m if k not in HIDDEN_COLUMNS and k not in keys)
    first = [k for k in MEASUREMENT_COLUMNS if k in keys]
    return first + sorted(k for k in keys if k not in first)


def _cell(v) -> str:
    if isinstance(v, (int, float)) and not isinstance(v, bool):
        return count(v) if isinstance(v, int) or (isinstance(v, float) and v.is_integer() and abs(v) >= 1000) else num(v)
    if isinstance(v, dict):
        return slice_text(v)
    if isinstance(v, (list, tuple)):
        return ", ".join(str(x) for x in v)
    return "—" if v is None else str(v)


def _dp(rule) -> dict | None:
    if rule.kind != "dp_budget":
        return None
    m = next((m for m in rule.measurements if m.get("metric") == "epsilon"), None)
    if m is None:
        return None
    bound = rule.bound or {}
    rel = "within" if rule.status in ("pass",) else "over" if rule.status in ("fail", "warn", "waived") else None
    return {"epsilon": num(m.get("value")), "delta": num(m.get("delta", bound.get("delta"))),
            "max_epsilon": num(bound.get("max_epsilon")), "relation": rel,
            "assumptions": [(k.replace("_", " "), _cell(m.get(k))) for k in DP_FIELDS if k in m]}


def _model_card(rule) -> list[tuple[str, bool]] | None:
    if rule.kind != "model_card":
        return None
    return [((m.get("slice") or {}).get("field", slice_text(m.get("slice"))), _number(m.get("value")) == 1.0)
            for m in rule.measurements]


def _rule_view(index: int, rule) -> dict:
    cols = _columns(rule.measurements)
    return {
        "r": rule, "anchor": f"rule-{index}", "status_word": STATUS_WORDS.get(rule.status, rule.status.upper()),
        "value": num(rule.value), "bound": bound_text(rule.bound) or "—", "where": where(rule.location),
        "where_short": where(rule.location).rsplit("/", 1)[-1],
        "worst": slice_text(rule.worst_slice) if rule.worst_slice else "", "waiver": waiver_text(rule.waiver),
        "waiver_slice": slice_text(rule.waiver.get("slice")) if rule.waiver and rule.waiver.get("slice") else "all",
        "chart": chart(rule), "dp": _dp(rule), "card_fields": _model_card(rule),
        "columns": cols,
        "rows": [{"slice": slice_text(m.get("slice")), "metric": m.get("metric") or "", "value": num(m.get("value")),
                  "cells": [_cell(m.get(c)) for c in cols],
                  "note": m.get("undefined_reason") or m.get("excluded") or "",
                  "worst": bool(rule.worst_slice) and m.get("slice") == rule.worst_slice}
                 for m in rule.measurements],
    }


def context(report) -> dict:
    counts = report.counts()
    prov = report.provenance or {}
    indexed = {id(r): i for i, r in enumerate(report.rules, 1)}
    views = [_rule_view(indexed[id(r)], r) for r in sorted_rules(report.rules)]
    card = (report.evidence or {}).get("model_card")
    duration = prov.get("duration_seconds")
    return {
        "report": report,
        "name": report.policy.get("name") or report.policy.get("path") or "policy",
        "policy_file": rel_path(report.policy.get("path")) if report.policy.get("path") else "",
        "verdict_word": VERDICT_WORDS.get(report.verdict, report.verdict.upper()),
        "verdict_line": VERDICT_LINES.get(report.verdict, ""),
        "counts": [(s, STATUS_WORDS[s], counts.get(s, 0)) for s in STATUS_ORDER],
        "rules": views,
        "charted": [v for v in views if v["chart"]],
        "waivers": [v for v in views if v["r"].waiver],
        "disabled": sorted(report.disabled.items()),
        "model_card": card if isinstance(card, dict) else None,
        "card_rules": [v for v in views if v["card_fields"] is not None],
        "subject": [(k.replace("_", " "), _cell(v)) for k, v in (report.subject or {}).items() if v not in (None, [], "")],
        "evidence": report.evidence or {},
        "rows_evaluated": count(report.evidence["rows"]) if (report.evidence or {}).get("rows") else None,
        "inputs": prov.get("inputs") or [],
        "versions": sorted((prov.get("versions") or {}).items()),
        "command": command_text(prov.get("command")),
        "started": prov.get("started") or "",
        "duration": f"{duration:.1f} s" if isinstance(duration, (int, float)) else "",
        "timings": sorted(((report.evidence or {}).get("timings") or {}).items()),
        "rai_version": (prov.get("versions") or {}).get("rai-policy") or "",
        "fmt": num,
        "cell": _cell,
    }


@lru_cache(maxsize=1)
def _environment():
    from jinja2 import Environment, FileSystemLoader, StrictUndefined

    return Environment(loader=FileSystemLoader(str(templates_dir())), autoescape=True, undefined=StrictUndefined,
                       trim_blocks=True, lstrip_blocks=True, keep_trailing_newline=True)


def render(report) -> str:
    return _environment().get_template("report.html.j2").render(**context(report))
