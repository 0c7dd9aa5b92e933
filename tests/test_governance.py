"""Waivers, severities, --fail-on and the baseline, through the CLI on the COMPAS policy."""
from __future__ import annotations

import json
from pathlib import Path

import pytest

from rai_policy.cli import main
from tests.conftest import POLICIES

BASE = (POLICIES / "compas_fairness.yaml").read_text()
WAIVER = """
waivers:
  - rule: fpr-gap-race
    reason: Recalibration ships next quarter (RAI-142)
    approved_by: jane.doe@example.com
    expires: {expires}
"""
ONLY_FPR = "\n".join(BASE.split("  - id: fnr-gap-race")[0].splitlines()) + "\n"


def check(tmp_path: Path, policy_text: str, data: Path, *extra: str) -> tuple[int, dict, str]:
    policy = tmp_path / "policy.yaml"
    policy.write_text(policy_text)
    out = tmp_path / "r.json"
    code = main(["check", str(policy), "--data", str(data), "--engine", "local", "-q",
                 "--report", f"json={out}", *extra])
    return code, json.loads(out.read_text()), policy.read_text()


def rule(report, rid):
    return next(r for r in report["rules"] if r["id"] == rid)


def test_future_waiver_turns_fpr_failure_into_waived_and_exit_0(tmp_path, compas_scored_csv, capsys):
    code, report, _ = check(tmp_path, ONLY_FPR + WAIVER.format(expires="2099-12-31"), compas_scored_csv)
    r = rule(report, "fpr-gap-race")
    assert code == 0 and report["verdict"] == "pass"
    assert r["status"] == "waived"
    assert r["waiver"]["reason"].startswith("Recalibration") and r["waiver"]["approved_by"] == "jane.doe@example.com"
    assert r["waiver"]["expires"] == "2099-12-31"
    assert r["value"] == pytest.approx(0.213925, abs=5e-4)  # the measurement is still reported
    assert "waived: Recalibration ships next quarter (RAI-142), approved by jane.doe@example.com, until 2099-12-31" \
        in capsys.readouterr().out


def test_expired_waiver_fails_and_says_so(tmp_path, compas_scored_csv):
    code, report, _ = check(tmp_path, ONLY_FPR + WAIVER.format(expires="2020-01-01"), compas_scored_csv)
    r = rule(report, "fpr-gap-race")
    assert code == 1 and r["status"] == "fail"
    assert r["message"].startswith("waiver expired on 2020-01-01 (approved by jane.doe@example.com)")


def test_waiver_for_unknown_rule_exits_2(tmp_path, compas_scored_csv, capsys):
    text = ONLY_FPR + WAIVER.format(expires="2099-12-31").replace("rule: fpr-gap-race", "rule: fpr-gap-rcae")
    policy = tmp_path / "policy.yaml"
    policy.write_text(text)
    assert main(["check", str(policy), "--data", str(compas_scored_csv), "-q"]) == 2
    assert "waiver names unknown rule 'fpr-gap-rcae'; did you mean 'fpr-gap-race'?" in capsys.readouterr().err


def test_slice_waiver_only_matches_its_slice(tmp_path, compas_scored_csv):
    wrong_slice = WAIVER.format(expires="2099-12-31") + "    slice: {race: Hispanic}\n"
    code, report, _ = check(tmp_path, ONLY_FPR + wrong_slice, compas_scored_csv)
    assert code == 1 and rule(report, "fpr-gap-race")["status"] == "fail"
    right_slice = WAIVER.format(expires="2099-12-31") + "    slice: {race: African-American}\n"
    code, report, _ = check(tmp_path, ONLY_FPR + right_slice, compas_scored_csv)
    assert code == 0 and rule(report, "fpr-gap-race")["status"] == "waived"


def test_warning_severity_warns_and_fail_on_warning_blocks(tmp_path, compas_scored_csv):
    text = ONLY_FPR.replace("    max_gap: 0.05\n", "    max_gap: 0.05\n    severity: warning\n", 1)
    code, report, _ = check(tmp_path, text, compas_scored_csv)
    assert code == 0 and rule(report, "fpr-gap-race")["status"] == "warn"
    code, report, _ = check(tmp_path, text, compas_scored_csv, "--fail-on", "warning")
    assert code == 1 and rule(report, "fpr-gap-race")["status"] == "fail"


def test_baseline_fails_only_on_new_failures(tmp_path, compas_scored_csv):
    baseline = tmp_path / "baseline.json"
    code, _, _ = check(tmp_path, ONLY_FPR, compas_scored_csv, "--write-baseline", str(baseline))
    assert code == 1
    assert json.loads(baseline.read_text())["failures"] == [{"rule": "fpr-gap-race", "slice": {"race": "African-American"}}]
    code, report, _ = check(tmp_path, ONLY_FPR, compas_scored_csv, "--baseline", str(baseline))
    assert code == 0 and rule(report, "fpr-gap-race")["status"] == "waived"
    assert rule(report, "fpr-gap-race")["waiver"]["source"] == "baseline"
    # a new failure (sex representation) is not in the baseline: the run fails again
    code, report, _ = check(tmp_path, BASE, compas_scored_csv, "--baseline", str(baseline))
    assert code == 1
    assert rule(report, "sex-representation")["status"] == "fail"


def test_missing_baseline_file_is_exit_2(tmp_path, compas_scored_csv, capsys):
    policy = tmp_path / "p.yaml"
    policy.write_text(ONLY_FPR)
    assert main(["check", str(policy), "--data", str(compas_scored_csv), "-q", "--baseline", str(tmp_path / "no.json")]) == 2
    assert "baseline file not found" in capsys.readouterr().err


def test_provenance_manifest_hashes_inputs(tmp_path, compas_scored_csv):
    _, report, _ = check(tmp_path, ONLY_FPR, compas_scored_csv)
    prov = report["provenance"]
    roles = {i["role"]: i for i in prov["inputs"]}
    import hashlib

    assert roles["data"]["sha256"] == hashlib.sha256(compas_scored_csv.read_bytes()).hexdigest()
    assert roles["policy"]["sha256"] == hashlib.sha256((tmp_path / "policy.yaml").read_bytes()).hexdigest()
    for tool in ("rai-policy", "tensorflow", "tensorflow-model-analysis", "tensorflow-data-validation",
                 "tensorflow-privacy", "model-card-toolkit"):
        assert prov["versions"][tool]
    assert prov["command"][:2] == ["rai-policy", "check"] and prov["started"] and prov["duration_seconds"] >= 0
