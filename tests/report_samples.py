"""Small hand-built Report objects for renderer edge cases (every status, waivers, hostile slice values)."""
from __future__ import annotations

from rai_policy.report.model import Report, RuleResult

SCRIPT = "<script>alert(1)</script>"
IMG = "<img src=x onerror=\"document.title='pwned'\">"
UNICODE = "Zoë | Ünïcødé & 'quote' * _x_ [link](http://e.x)"
POLICY = "policies/synthetic.yaml"


def _loc(line: int) -> dict:
    return {"file": POLICY, "line": line, "column": 5}


def _slice_meas(metric: str, values: dict, feature: str = "group") -> tuple[dict, ...]:
    return tuple({"slice": {feature: g}, "metric": metric, "value": v, "count": n, "threshold": 0.5,
                  "tp": 10.0, "fp": 5.0, "tn": 20.0, "fn": 3.0, "engine": "local"}
                 for g, (v, n) in values.items())


def synthetic_report() -> Report:
    rules = (
        RuleResult("recall-floor", "slice_metric", "RAI-SLICE-001", "fail", "error", 0.42, {"min": 0.6},
                   f"recall 0.42 ({SCRIPT}) < min 0.6; 1 of 3 slices out of bounds: {SCRIPT}=0.42 | pipe",
                   _slice_meas("recall", {SCRIPT: (0.42, 40), UNICODE: (0.81, 55), IMG: (0.7, 30)}),
                   {"group": SCRIPT}, ("1 slice(s) below min_slice_size=5 not judged: tiny",), _loc(10),
                   None, f"Recall floor for every group {SCRIPT}"),
        RuleResult("selection-ratio", "slice_gap", "RAI-SLICE-002", "warn", "warning", 0.7, {"min_ratio": 0.8},
                   "selection_rate: ratio 0.7 < min_ratio 0.8 (male 0.5 vs female 0.35)",
                   _slice_meas("selection_rate", {"female": (0.35, 300), "male": (0.5, 700)}, "sex"),
                   {"sex": "female"}, (), _loc(18)),
        RuleResult("fpr-gap", "slice_gap", "RAI-SLICE-002", "waived", "error", 0.2, {"max_gap": 0.05},
                   "false_positive_rate: gap 0.2 > max_gap 0.05 (b 0.3 vs a 0.1)",
                   _slice_meas("false_positive_rate", {"a": (0.1, 100), "b": (0.3, 120), "c": (0.15, 4)}),
                   {"group": "b"}, (), _loc(26),
                   {"source": "policy", "reason": "Known gap | tracked in RAI-123", "approved_by": "Jane Roe <jr@x.org>",
                    "expires": "2099-01-31", "slice": {"group": "b"}}),
        RuleResult("auc-floor", "slice_metric", "RAI-SLICE-001", "not_evaluable", "error", None, {"min": 0.7},
                   "group z has only one label class present, auc undefined (set `on_undefined: skip` ...)",
                   ({"slice": {"group": "z"}, "metric": "auc", "value": None, "count": 12, "threshold": 0.5,
                     "undefined_reason": "only one label class present"},),
                   None, (), _loc(34)),
        RuleResult("missing-metric", "slice_metric", "RAI-SLICE-001", "error", "error", None, {"max": 0.1},
                   "TFMA did not produce metric 'false_positive_rate' (missing metric)", (), None, (), _loc(41)),
        RuleResult("dp-epsilon", "dp_budget", "RAI-PRIV-001", "pass", "error", 2.5971,
                   {"max_epsilon": 3.0, "delta": 1e-05, "accountant": "rdp"},
                   "ε 2.5971 ≤ 3 (rdp, poisson sampling, 14063 steps, δ=1e-05)",
                   ({"slice": {}, "metric": "epsilon", "value": 2.5971, "count": None, "accountant": "rdp",
                     "sampling": "poisson", "steps": 14063, "steps_source": "ceil(epochs · examples / batch_size)",
                     "sampling_rate": 0.0364, "noise_multiplier": 1.1, "effective_noise_multiplier": 1.1,
                     "optimal_order": 14.0, "delta": 1e-05},),
                   None, ("shuffled batches are accounted as Poisson sampling (an assumption)",), _loc(48)),
        RuleResult("model-card-complete", "model_card", "RAI-DOC-001", "fail", "info", 1.0,
                   {"required": ["model_details.name", "considerations.limitations"]},
                   "missing or empty: considerations.limitations",
                   ({"slice": {"field": "model_details.name"}, "metric": "present", "value": 1.0, "count": None},
                    {"slice": {"field": "considerations.limitations"}, "metric": "present", "value": 0.0, "count": None}),
                   None, (), _loc(55)),
        RuleResult("share-floor", "representation", "RAI-DATA-001", "pass", "error", 0.45,
                   {"min_share": {"female": 0.3, "male": 0.3}},
                   "every value of sex has share ≥ floor (worst sex=female 450/1000 = 0.45)",
                   ({"slice": {"sex": "female"}, "metric": "share", "value": 0.45, "count": 450, "numerator": 450,
                     "denominator": 1000, "tool": "tfdv"},
                    {"slice": {"sex": "male"}, "metric": "share", "value": 0.55, "count": 550, "numerator": 550,
                     "denominator": 1000, "tool": "tfdv"}),
                   None, (), _loc(60)),
    )
    return Report(
        verdict="error", exit_code=2,
        policy={"name": f"synthetic {SCRIPT}", "description": f"Edge cases: {UNICODE}", "path": POLICY},
        rules=rules,
        subject={"data": ["data/eval.csv"], "label": "y", "prediction": "score", "model": None,
                 "model_card": "card.json", "training": None},
        evidence={"engine": "local", "engine_reason": "--engine local", "rows": 1000, "tools": ["local", "tfdv"],
                  "notes": [f"note with {SCRIPT}"], "timings": {"read_data": 0.01},
                  "model_card": {"name": f"Credit model {SCRIPT}", "overview": "Scores applicants.",
                                 "owners": ["Risk team", "ML platform"]}},
        provenance={"inputs": [{"role": "policy", "path": POLICY, "sha256": "ab" * 32},
                               {"role": "data", "path": "data/eval.csv", "sha256": "cd" * 32}],
                    "versions": {"rai-policy": "0.1.0", "tensorflow": "2.15.1", "apache-beam": None},
                    "command": ["rai-policy", "check", POLICY, "--report", "sarif=out/r.sarif", "--report=html=out/r.html"],
                    "started": "2026-01-02T03:04:05+00:00", "duration_seconds": 1.234},
        disabled={"old-rule": f"replaced by recall-floor {SCRIPT}"},
    )


def errors_report() -> Report:
    """What the engine writes when nothing could be evaluated (exit 2): no rules, only errors."""
    from rai_policy import engine

    return engine.error_report("policies/broken.yaml:3:5: rules[0].kind: unknown rule kind 'slice_gapp'",
                               "policies/broken.yaml", ["rai-policy", "check", "policies/broken.yaml"])
