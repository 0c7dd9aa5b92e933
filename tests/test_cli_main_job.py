"""The main job through the public CLI on real data: ../shared/oracles.md P-04, P-05, P-09, P-11, P-13, P-14."""
from __future__ import annotations

import json
from pathlib import Path

import pytest

from rai_policy.cli import main
from tests.conftest import POLICIES


def run(args: list[str], capsys) -> tuple[int, str, str]:
    code = main(args)
    out = capsys.readouterr()
    return code, out.out, out.err


def rule(report: dict, rid: str) -> dict:
    return next(r for r in report["rules"] if r["id"] == rid)


@pytest.fixture(scope="module")
def compas_json(compas_scored_csv, tmp_path_factory):
    """One CLI check of the COMPAS policy with the local engine; its JSON report and exit code."""
    out = tmp_path_factory.mktemp("reports") / "compas.json"
    code = main(["check", str(POLICIES / "compas_fairness.yaml"), "--data", str(compas_scored_csv),
                 "--engine", "local", "--quiet", "--report", f"json={out}"])
    return code, json.loads(out.read_text())


def test_compas_fpr_gap_fails_with_propublica_value(compas_json):
    code, report = compas_json
    assert code == 1 and report["verdict"] == "fail" and report["exit_code"] == 1
    fpr = rule(report, "fpr-gap-race")
    assert fpr["status"] == "fail"
    assert fpr["value"] == pytest.approx(0.213925, abs=5e-4)
    assert fpr["bound"] == {"max_gap": 0.05}
    by_race = {m["slice"]["race"]: m for m in fpr["measurements"]}
    assert by_race["African-American"]["value"] == pytest.approx(0.448468, abs=5e-4)
    assert by_race["Caucasian"]["value"] == pytest.approx(0.234543, abs=5e-4)
    # counts behind the rates (P-05 truth tables)
    aa = by_race["African-American"]
    assert (aa["fp"], aa["tn"], aa["tp"], aa["fn"]) == (805, 990, 1369, 532)


def test_compas_fnr_by_race(compas_json):
    _, report = compas_json
    by_race = {m["slice"]["race"]: m["value"] for m in rule(report, "fnr-gap-race")["measurements"]}
    assert by_race["African-American"] == pytest.approx(0.279853, abs=5e-4)
    assert by_race["Caucasian"] == pytest.approx(0.477226, abs=5e-4)


def test_compas_sex_representation_fails(compas_json):
    _, report = compas_json
    rep = rule(report, "sex-representation")
    assert rep["status"] == "fail"
    female = next(m for m in rep["measurements"] if m["slice"] == {"sex": "Female"})
    assert (female["numerator"], female["denominator"]) == (1395, 7214)
    assert rep["value"] == pytest.approx(1395 / 7214)


def test_json_contract_field_names(compas_json):
    _, report = compas_json
    assert {"schema_version", "verdict", "exit_code", "rules"} <= set(report)
    for r in report["rules"]:
        assert {"id", "kind", "status", "severity", "value", "bound", "message", "measurements"} <= set(r)
        for m in r["measurements"]:
            assert {"slice", "metric", "value", "count"} <= set(m)


@pytest.mark.slow
def test_compas_through_tfma_engine_matches(compas_scored_csv, tmp_path, capsys):
    out = tmp_path / "tfma.json"
    code, stdout, _ = run(["check", str(POLICIES / "compas_fairness.yaml"), "--data", str(compas_scored_csv),
                           "--engine", "tfma", "--quiet", "--report", f"json={out}"], capsys)
    report = json.loads(out.read_text())
    assert code == 1 and report["evidence"]["engine"] == "tfma"
    assert rule(report, "fpr-gap-race")["value"] == pytest.approx(0.213925, abs=5e-4)
    assert "FAIL" in stdout and "fpr-gap-race" in stdout


def test_adult_sex_representation_passes(adult_csv, tmp_path, capsys):
    policy = tmp_path / "adult.yaml"
    policy.write_text("version: 1\nname: adult\nrules:\n  - id: sex-share\n    kind: representation\n"
                      "    feature: sex\n    min_share: 0.3\n")
    out = tmp_path / "r.json"
    code, _, _ = run(["check", str(policy), "--data", str(adult_csv), "-q", "--report", f"json={out}"], capsys)
    report = json.loads(out.read_text())
    assert code == 0
    r = rule(report, "sex-share")
    assert r["status"] == "pass"
    assert r["value"] == pytest.approx(0.330795, abs=5e-6)  # Female 10771 / 32561 (P-09)


DP_CASES = [
    # (oracle, record, delta, accountant, expected ε, tolerance)
    ("P-11", {"examples": 60000, "batch_size": 256, "epochs": 60, "noise_multiplier": 1.1, "sampling": "poisson"},
     1e-5, "rdp", 2.597, 5e-4),
    ("P-13", {"examples": 60000, "batch_size": 150, "epochs": 15, "noise_multiplier": 1.3, "sampling": "poisson"},
     1e-5, "rdp", 0.7242234026109595, 1e-6),
    ("P-14", {"examples": 10000, "batch_size": 64, "epochs": 5, "noise_multiplier": 2.0, "sampling": "poisson",
              "microbatching": True}, 1e-6, "rdp", 1.616, 5e-4),
]


@pytest.mark.parametrize("oracle,record,delta,accountant,expected,tol", DP_CASES, ids=[c[0] for c in DP_CASES])
def test_dp_budget_oracles_through_check(oracle, record, delta, accountant, expected, tol, tmp_path, capsys):
    training = tmp_path / "training.json"
    training.write_text(json.dumps(record))
    policy = tmp_path / "dp.yaml"
    policy.write_text(f"version: 1\nname: dp\nrules:\n  - id: eps\n    kind: dp_budget\n    max_epsilon: 3.0\n"
                      f"    delta: {delta!r}\n    accountant: {accountant}\n")
    out = tmp_path / "r.json"
    code, stdout, _ = run(["check", str(policy), "--training", str(training), "-q", "--report", f"json={out}"], capsys)
    r = rule(json.loads(out.read_text()), "eps")
    assert r["value"] == pytest.approx(expected, abs=tol)
    m = r["measurements"][0]
    assert m["accountant"] == accountant and m["sampling"] == "poisson" and m["steps"] > 0
    assert f"{m['steps']} steps" in stdout
    assert code == (0 if expected <= 3.0 else 1)


def test_dp_p11_steps_printed(tmp_path, capsys):
    training = tmp_path / "t.yaml"
    training.write_text("examples: 60000\nbatch_size: 256\nepochs: 60\nnoise_multiplier: 1.1\nsampling: poisson\n")
    policy = tmp_path / "dp.yaml"
    policy.write_text("version: 1\nname: dp\nrules:\n  - id: eps\n    kind: dp_budget\n    max_epsilon: 2.5\n    delta: 1.0e-5\n")
    code, stdout, _ = run(["check", str(policy), "--training", str(training), "-q"], capsys)
    assert code == 1  # 2.597 > 2.5
    assert "14063 steps" in stdout and "rdp" in stdout


def test_typo_in_policy_exits_2_with_line_and_suggestion(tmp_path, capsys):
    policy = tmp_path / "typo.yaml"
    policy.write_text("version: 1\nname: t\nrules:\n  - id: fpr-gap\n    kind: slice_gap\n    metric: false_positive_rate\n"
                      "    slice_by: [race]\n    max_gpa: 0.05\n")
    out = tmp_path / "r.json"
    code, stdout, stderr = run(["check", str(policy), "--data", "x.csv", "--report", f"json={out}"], capsys)
    assert code == 2
    assert f"{policy}:8:5: unknown key 'max_gpa'; did you mean 'max_gap'?" in stderr
    assert "Traceback" not in stderr + stdout
    assert json.loads(out.read_text())["verdict"] == "error"  # a report is written on exit 2 too


def test_dp_rule_without_training_is_not_evaluable(tmp_path, capsys):
    policy = tmp_path / "dp.yaml"
    policy.write_text("version: 1\nname: dp\nrules:\n  - id: eps\n    kind: dp_budget\n    max_epsilon: 3\n    delta: 1.0e-5\n")
    code, stdout, _ = run(["check", str(policy), "-q"], capsys)
    assert code == 3
    assert "N/A" in stdout and "no DP-SGD training record given" in stdout


def test_missing_data_file_is_exit_2_one_line(tmp_path, capsys):
    code, stdout, stderr = run(["check", str(POLICIES / "compas_fairness.yaml"), "--data", str(tmp_path / "nope.csv"), "-q"], capsys)
    assert code == 2
    assert "data file not found" in stdout + stderr
    assert "Traceback" not in stdout + stderr


def test_wrong_label_column_suggests(compas_scored_csv, tmp_path, capsys):
    code, stdout, _ = run(["check", str(POLICIES / "compas_fairness.yaml"), "--data", str(compas_scored_csv),
                           "--label", "two_year_recidd", "--engine", "local", "-q"], capsys)
    assert code == 2
    assert "label column 'two_year_recidd' not in the data; did you mean 'two_year_recid'?" in stdout
