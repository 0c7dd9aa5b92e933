"""A newcomer's review, each finding fixed as a class and checked through the CLI.

1 a repeated group in `groups` · 2 representation with a group absent · 3 a misspelt slice group ·
4 the DP training record (`sampling` required, steps that disagree with epochs) · 5 undefined
metrics under example weights · 6 a directory given as the model card · 7 bounds a metric can
never cross, and quoted numbers.
"""
from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest

from rai_policy.cli import main

SUBJECT = "subject: {label: label, prediction: score}\n"


def write_policy(tmp_path: Path, rules: str, subject: str = SUBJECT) -> Path:
    p = tmp_path / "p.yaml"
    p.write_text("version: 1\nname: review\n" + subject + "rules:\n" + rules)
    return p


def run(tmp_path: Path, capsys, *args: str) -> tuple[int, str, str, dict | None]:
    report = tmp_path / "report.json"
    argv = list(args)
    if argv[0] == "check":
        argv += ["--no-cache", "--engine", "local", "--report", f"json={report}"]
    code = main(argv)
    out = capsys.readouterr()
    return code, out.out, out.err, json.loads(report.read_text()) if report.exists() else None


def rule(report: dict, rid: str) -> dict:
    return next(r for r in report["rules"] if r["id"] == rid)


def lint_problems(tmp_path: Path, capsys, rules: str, subject: str = SUBJECT) -> list[str]:
    policy = write_policy(tmp_path, rules, subject)
    code, out, err, _ = run(tmp_path, capsys, "lint", str(policy))
    assert code == 2, out + err
    return [line.replace(str(policy), "p.yaml") for line in (out + err).splitlines() if line.startswith("error: ")]


def csv(tmp_path: Path, rows: list[tuple], columns=("race", "sex", "label", "score"), name="d.csv") -> str:
    """rows: (values…, n) with n repeats."""
    out = []
    for *values, n in rows:
        out.extend([dict(zip(columns, values))] * n)
    path = tmp_path / name
    pd.DataFrame(out).to_csv(path, index=False)
    return str(path)


# ---------------------------------------------------------------- 1. a repeated group


@pytest.mark.parametrize("groups, expected", [
    ("[African-American, African-American]",
     "p.yaml:9:13: groups[0] and groups[1] both name 'African-American'; list each group once (rules[0].groups)"),
    ("[1, A, 1.0]",  # spelt as the data spells slice values: 1.0 reads 1
     "p.yaml:9:13: groups[0] and groups[2] both name '1'; list each group once (rules[0].groups)"),
])
def test_repeated_group_is_a_located_policy_error(tmp_path, capsys, groups, expected):
    got = lint_problems(tmp_path, capsys, "  - id: g\n    kind: slice_gap\n    metric: false_positive_rate\n"
                        f"    slice_by: [race]\n    groups: {groups}\n    max_gap: 0.05\n")
    assert got == [f"error: {expected}"]


def test_repeated_intersection_group_and_single_group_gap(tmp_path, capsys):
    got = lint_problems(tmp_path, capsys,
                        "  - {id: a, kind: slice_metric, metric: recall, slice_by: [race, sex], min: 0.5,\n"
                        "     groups: [[A, F], [B, F], [A, F]]}\n"
                        "  - {id: b, kind: slice_gap, metric: recall, slice_by: [race], groups: [A], max_gap: 0.1}\n"
                        "  - {id: c, kind: representation, feature: sex, min_share: 0.2, groups: [F, M, F]}\n")
    assert got == [
        "error: p.yaml:6:14: groups[0] and groups[2] both name 'A & F'; list each group once (rules[0].groups)",
        "error: p.yaml:7:72: `groups` names 1 group(s); a gap compares at least 2 (rules[1].groups)",
        "error: p.yaml:8:73: groups[0] and groups[2] both name 'F'; list each group once (rules[2].groups)",
    ]


def test_repeated_group_no_longer_passes_check(tmp_path, capsys):
    data = csv(tmp_path, [("African-American", "Male", 0, 0.9, 3), ("African-American", "Male", 0, 0.1, 7)])
    policy = write_policy(tmp_path, "  - {id: g, kind: slice_gap, metric: false_positive_rate, slice_by: [race],\n"
                                    "     groups: [African-American, African-American], max_gap: 0.05}\n")
    code, out, err, _ = run(tmp_path, capsys, "check", str(policy), "--data", data)
    assert code == 2 and "both name 'African-American'" in err and "PASS" not in out


# ---------------------------------------------------------------- 2. representation with a group absent


def test_one_group_seen_with_a_number_floor_is_not_evaluable(tmp_path, capsys):
    data = csv(tmp_path, [("A", "Male", 1, 0.9, 30), ("B", "Male", 0, 0.1, 20)])
    policy = write_policy(tmp_path, "  - {id: rep, kind: representation, feature: sex, min_share: 0.3}\n")
    code, out, _, report = run(tmp_path, capsys, "check", str(policy), "--data", data)
    r = rule(report, "rep")
    assert code == 3 and r["status"] == "not_evaluable" and r["value"] is None
    assert r["message"] == ("only one group seen (sex=Male 50/50); name the expected groups to judge absent ones: "
                            "`groups: [Male, …]`, or a map, e.g. `min_share: {Male: 0.3, …: 0.3}`")
    assert "PASS" not in out


def test_groups_list_judges_an_absent_group_and_a_misspelt_floor_suggests(tmp_path, capsys):
    data = csv(tmp_path, [("A", "Male", 1, 0.9, 30), ("B", "Male", 0, 0.1, 15), ("B", "Female", 0, 0.1, 5)])
    rules = ("  - {id: listed, kind: representation, feature: sex, min_share: 0.3, groups: [Female, Male, Other]}\n"
             "  - {id: typo-map, kind: representation, feature: sex, min_share: {Femal: 0.05}}\n"
             "  - {id: typo-list, kind: representation, feature: sex, min_share: 0.05, groups: [Male, female]}\n")
    code, _, _, report = run(tmp_path, capsys, "check", str(write_policy(tmp_path, rules)), "--data", data)
    assert code == 1
    listed = rule(report, "listed")
    assert listed["status"] == "fail" and listed["value"] == 0.0
    assert listed["message"] == ("share below floor: sex=Female 5/50 = 0.1 < 0.3; "
                                 "sex=Other 0/50 = 0 < 0.3 (absent from the data)")
    assert {m["slice"]["sex"]: m["count"] for m in listed["measurements"]} == {"Female": 5, "Male": 45, "Other": 0}
    typo = rule(report, "typo-map")
    assert typo["message"] == "share below floor: sex=Femal 0/50 = 0 < 0.05 (did you mean 'Female'?)"
    assert any("values seen but not named (not judged): Female 5/50, Male 45/50" in n for n in typo["notes"])
    assert "sex=female 0/50 = 0 < 0.05 (did you mean 'Female'?)" in rule(report, "typo-list")["message"]


def test_representation_groups_with_a_map_is_a_policy_error(tmp_path, capsys):
    got = lint_problems(tmp_path, capsys, "  - {id: r, kind: representation, feature: sex, min_share: {F: 0.3},\n"
                                          "     groups: [F, M]}\n")
    assert got == ["error: p.yaml:6:14: `min_share` is a map, which already names the groups; drop `groups`, or "
                   "give `min_share` as one number for every group listed (rules[0].groups)"]


# ---------------------------------------------------------------- 3. a misspelt slice group


def test_misspelt_slice_group_suggests_the_value_seen(tmp_path, capsys):
    data = csv(tmp_path, [("African-American", "Male", 0, 0.9, 3), ("African-American", "Male", 0, 0.1, 7),
                          ("Caucasian", "Male", 0, 0.9, 2), ("Caucasian", "Male", 0, 0.1, 8)])
    rules = ("  - {id: gap, kind: slice_gap, metric: false_positive_rate, slice_by: [race],\n"
             "     groups: [African-American, Caucasion], max_gap: 0.05}\n"
             "  - {id: floor, kind: slice_metric, metric: false_positive_rate, slice_by: [race, sex],\n"
             "     groups: [[Caucasion, Male], [Martian, Male]], max: 0.5}\n")
    code, _, _, report = run(tmp_path, capsys, "check", str(write_policy(tmp_path, rules)), "--data", data)
    assert code == 3
    assert rule(report, "gap")["message"] == \
        "group(s) Caucasion (did you mean 'Caucasian'?) have no rows in the data"
    assert rule(report, "floor")["message"] == \
        "group(s) Caucasion & Male (did you mean 'Caucasian & Male'?), Martian & Male have no rows in the data"


# ---------------------------------------------------------------- 4. the DP training record

DP_RULE = "  - {id: eps, kind: dp_budget, max_epsilon: 3, delta: 1.0e-5}\n"


def dp_run(tmp_path, capsys, record: dict):
    training = tmp_path / "training.json"
    training.write_text(json.dumps(record))
    return run(tmp_path, capsys, "check", str(write_policy(tmp_path, DP_RULE, "")), "--training", str(training))


def test_sampling_is_required(tmp_path, capsys):
    code, _, _, report = dp_run(tmp_path, capsys, {"examples": 700, "batch_size": 35, "epochs": 10,
                                                   "noise_multiplier": 1.1})
    r = rule(report, "eps")
    assert code == 2 and r["status"] == "error"
    assert r["message"].endswith(
        "training.json: sampling: missing; say how batches were drawn: sampling: poisson (each example independently "
        "with probability batch_size/examples, as DP-SGD's analysis assumes) or shuffle (fixed-size batches of a "
        "shuffled epoch)")


def test_logged_steps_disagreeing_with_epochs_are_in_the_message(tmp_path, capsys):
    code, out, _, report = dp_run(tmp_path, capsys, {"examples": 700, "batch_size": 35, "epochs": 10, "steps": 5,
                                                     "noise_multiplier": 1.1, "sampling": "shuffle"})
    r = rule(report, "eps")
    assert code == 0 and r["status"] == "pass" and r["measurements"][0]["steps"] == 5  # steps win (B12)
    assert r["message"] == "ε 1.5557 ≤ 3 (rdp, shuffle sampling, 5 steps from the record; epochs 10 would give 200, δ=1e-05)"
    assert "5 steps from the record; epochs 10 would give 200" in out
    # agreeing figures are stated plainly
    code, _, _, report = dp_run(tmp_path, capsys, {"examples": 700, "batch_size": 35, "epochs": 10, "steps": 200,
                                                   "noise_multiplier": 1.1, "sampling": "shuffle"})
    assert "(rdp, shuffle sampling, 200 steps, δ=1e-05)" in rule(report, "eps")["message"]


# ---------------------------------------------------------------- 5. undefined metrics under example weights


def test_undefined_reasons_are_weight_aware(tmp_path, capsys):
    rows = [("A", 0, 0.9, 1.0, 3), ("A", 0, 0.1, 1.0, 7), ("A", 1, 0.9, 1.0, 5),
            ("B", 0, 0.9, 0.0, 2000), ("B", 1, 0.9, 2.0, 50),  # ~2,000 negatives, all of weight 0
            ("C", 0, 0.9, 0.0, 20), ("C", 1, 0.1, 0.0, 5)]  # every row of weight 0
    data = csv(tmp_path, rows, columns=("race", "label", "score", "w"))
    rules = ("  - {id: fpr, kind: slice_gap, metric: false_positive_rate, slice_by: [race], max_gap: 0.1}\n"
             "  - {id: acc, kind: slice_metric, metric: accuracy, slice_by: [race], min: 0.1, on_undefined: skip}\n")
    subject = "subject: {label: label, prediction: score, example_weight: w}\n"
    code, _, _, report = run(tmp_path, capsys, "check", str(write_policy(tmp_path, rules, subject)), "--data", data)
    assert code == 3
    fpr = rule(report, "fpr")
    assert fpr["message"].startswith("group B has total weight 0 on its negative labels, false_positive_rate undefined; "
                                     "group C has weight 0 on all 25 rows, false_positive_rate undefined")
    assert "0 negative labels" not in fpr["message"]
    by_race = {m["slice"]["race"]: m for m in fpr["measurements"]}
    assert by_race["B"]["undefined_reason"] == "total weight 0 on its negative labels"
    assert "not judged: C (accuracy undefined: weight 0 on all 25 rows)" in rule(report, "acc")["message"]


# ---------------------------------------------------------------- 6. a directory as the model card


def test_model_card_directory_is_named_as_such(tmp_path, capsys):
    (tmp_path / "cards").mkdir()
    policy = write_policy(tmp_path, "  - {id: card, kind: model_card}\n", "")
    code, out, _, report = run(tmp_path, capsys, "check", str(policy), "--model-card", str(tmp_path / "cards"))
    r = rule(report, "card")
    assert code == 2 and r["status"] == "error"
    assert r["message"] == (f"model card {tmp_path / 'cards'} is a directory, not a model card file "
                            "(give the card's JSON file, e.g. model_card.json)")
    assert "not found" not in out


# ---------------------------------------------------------------- 7. unreachable bounds, quoted numbers


def test_bounds_a_metric_can_never_cross_are_policy_errors(tmp_path, capsys):
    rules = ("  - {id: a, kind: slice_metric, metric: recall, slice_by: [race], min: 1.2}\n"
             "  - {id: b, kind: slice_metric, metric: selection_rate, slice_by: [race], max: -0.1}\n"
             "  - {id: c, kind: slice_metric, metric: example_count, slice_by: [race], min: -1}\n"
             "  - {id: d, kind: slice_gap, metric: auc, slice_by: [race], max_gap: 1.5}\n"
             "  - {id: e, kind: slice_metric, metric: example_count, slice_by: [race], min: 30}\n")
    assert lint_problems(tmp_path, capsys, rules) == [
        "error: p.yaml:5:72: min 1.2 is outside [0, 1], where recall lives: it is never met (rules[0].min)",
        "error: p.yaml:6:80: max -0.1 is outside [0, 1], where selection_rate lives: it is never met (rules[1].max)",
        "error: p.yaml:7:79: min -1 is negative; example_count is a number of rows (≥ 0) (rules[2].min)",
        "error: p.yaml:8:70: max_gap 1.5 is outside [0, 1], where auc lives: it is always met (rules[3].max_gap)",
    ]


def test_quoted_numbers_are_policy_errors(tmp_path, capsys):
    rules = ("  - {id: a, kind: slice_gap, metric: recall, slice_by: [race], max_gap: \"0.05\"}\n"
             "  - {id: b, kind: slice_metric, metric: recall, slice_by: [race], min: 0.5, decision_threshold: '0.4',\n"
             "     min_slice_size: true}\n"
             "  - {id: c, kind: representation, feature: sex, min_share: {F: \"0.3\"}, min_count: '10'}\n"
             "  - {id: d, kind: dp_budget, max_epsilon: '3', delta: 1.0e-5}\n")
    assert lint_problems(tmp_path, capsys, rules) == [
        "error: p.yaml:5:73: expected a number, got the string '0.05' (rules[0].max_gap)",
        "error: p.yaml:6:97: expected a number, got the string '0.4' (rules[1].decision_threshold)",
        "error: p.yaml:7:22: expected a number, got true (rules[1].min_slice_size)",
        "error: p.yaml:8:60: expected a number, got the string '0.3' (rules[2].min_share)",
        "error: p.yaml:8:83: expected a number, got the string '10' (rules[2].min_count)",
        "error: p.yaml:9:43: expected a number, got the string '3' (rules[3].max_epsilon)",
    ]


def test_unquoted_exponent_numbers_still_load(tmp_path, capsys):
    """PyYAML (YAML 1.1) reads unquoted 1e-5 and 1.0e5 as strings; they are numbers as written."""
    policy = write_policy(tmp_path, "  - {id: d, kind: dp_budget, max_epsilon: 1.0e1, delta: 1e-5}\n"
                                    "  - {id: g, kind: slice_gap, metric: recall, slice_by: [race], max_gap: 5E-2}\n")
    code, out, err, _ = run(tmp_path, capsys, "lint", str(policy))
    assert code == 0, out + err
    from rai_policy.policy.loader import load_policy

    rules = load_policy(policy).rules
    assert (rules[0].max_epsilon, rules[0].delta, rules[1].max_gap) == (10.0, 1e-5, 0.05)
