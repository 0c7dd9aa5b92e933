"""Data-driven rule cases (sqlfluff's std_rule_cases style), reusable by plugin authors.

A case file holds named cases, each a rule (as in a policy), the evidence to judge, and the
expected status.  Evidence is given as small inputs and computed with the real local path:

    rule: slice_gap
    cases:
      - name: recall_gap_at_exact_boundary_passes
        rule: {kind: slice_gap, metric: recall, slice_by: [group], max_gap: 0.1}
        data:                      # rows; `n` repeats a row
          - {group: A, label: 1, score: 0.9, n: 8}
          - {group: A, label: 1, score: 0.1, n: 2}
        expect: pass               # pass | fail | not_evaluable | error
        value: 0.1                 # optional, compared to 1e-9
        message_contains: "gap 0.1"

Other evidence keys: `feature_stats: {feature, counts, missing}`, `privacy: {PrivacyResult fields}`,
`model_card: {document: {...}}` or `model_card: {found: false}`, `membership: {MembershipResult fields}`.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import yaml

from rai_policy.evidence.types import (Evidence, FeatureStats, FeatureStatsRequest, ModelCardDoc, ModelCardRequest,
                                       PrivacyRequest, PrivacyResult)
from rai_policy.rules.base import Finding
from rai_policy.rules.registry import rule_kinds


@dataclass(frozen=True)
class Case:
    file: str
    name: str
    rule: dict
    evidence: dict
    expect: str
    value: float | None
    message_contains: str | None


def load_cases(path: str | Path) -> list[Case]:
    doc = yaml.safe_load(Path(path).read_text(encoding="utf-8"))
    out = []
    for raw in doc["cases"]:
        rule = {"id": raw["name"].replace("_", "-")[:100], **raw["rule"]}
        ev = {k: raw[k] for k in ("data", "feature_stats", "privacy", "model_card", "weight", "membership") if k in raw}
        out.append(Case(str(path), raw["name"], rule, ev, raw["expect"], raw.get("value"), raw.get("message_contains")))
    return out


def _slice_evidence(rule, data: list[dict], weighted: bool) -> dict:
    import pandas as pd

    from rai_policy import data as datamod
    from rai_policy.evidence import local_metrics

    rows = []
    for r in data:
        rows.extend([r] * int(r.get("n", 1)))
    df = pd.DataFrame(rows)
    frame = pd.DataFrame({datamod.LABEL: df["label"].astype(float), datamod.PREDICTION: df["score"].astype(float)})
    if weighted:
        frame[datamod.WEIGHT] = df["weight"].astype(float)
    for f in rule.spec.slice_by:
        frame[f] = datamod.slice_strings(df[f], f)
    req = rule.requests()[0]
    res = local_metrics.compute_slice_metrics(frame, [req.slice_by], [req.threshold], weighted=weighted)
    return {req: res[(req.slice_by, req.threshold)]}


def run_case(case: Case) -> Finding:
    cls = rule_kinds()[case.rule["kind"]]
    rule = cls(cls.Spec.model_validate(case.rule))
    ev = case.evidence
    items: dict = {}
    if "data" in ev:
        items.update(_slice_evidence(rule, ev["data"], weighted=any("weight" in r for r in ev["data"])))
    if "feature_stats" in ev:
        fs = ev["feature_stats"]
        counts = {str(k): int(v) for k, v in fs["counts"].items()}
        missing = int(fs.get("missing", 0))
        items[FeatureStatsRequest(fs["feature"])] = FeatureStats(fs["feature"], counts, missing, sum(counts.values()) + missing)
    if "privacy" in ev:
        p = ev["privacy"]
        items[PrivacyRequest(p["accountant"], float(p["delta"]))] = PrivacyResult(**p)
    if "model_card" in ev:
        mc = ev["model_card"]
        items[ModelCardRequest()] = ModelCardDoc(mc.get("path", "model_card.json"), mc.get("found", True),
                                                  mc.get("document"), mc.get("schema_version", "0.0.2"),
                                                  tuple(mc.get("schema_errors", ())))
    if "membership" in ev:
        from rai_policy.evidence.mia_adapter import MembershipResult

        items.update({req: MembershipResult(**ev["membership"]) for req in rule.requests()})
    return rule.evaluate(Evidence(items))
