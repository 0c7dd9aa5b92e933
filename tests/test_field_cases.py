"""Every field case of ../shared/field-cases.md (B02 … B25 and the gaps) through the public CLI
(`rai_policy.cli.main`) or Python API (`rai_policy.engine.run_check`), one test per case or class,
named after it.  Each asserts the right behaviour the case states; docs/bad-input.md summarises them.
Tests that import TensorFlow for TFRecord, TFMA, SavedModels or TF Privacy are marked slow."""
from __future__ import annotations

import json
import math
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from rai_policy.cli import main
from tests.formats import (FAST_FORMATS, api_check, by_slice, check_format, cli_check, comparable, rule,
                           write_data)


def policy_file(tmp_path: Path, body: str, name: str = "policy.yaml", subject: str = "") -> Path:
    path = tmp_path / name
    path.write_text(f"version: 1\nname: {path.stem}\n" + (f"subject:\n{subject}" if subject else "") + "rules:\n" + body)
    return path


def rows(*specs) -> pd.DataFrame:
    """rows(("A", 1, 0.9, 9), …): (group, label, score, n) repeated n times."""
    out = []
    for g, y, s, n in specs:
        out += [{"group": g, "label": y, "score": s}] * n
    return pd.DataFrame(out)


SUBJECT = "  label: label\n  prediction: score\n"
EVERY_FORMAT = [*FAST_FORMATS, pytest.param("tfrecord", marks=pytest.mark.slow)]


# ---------------------------------------------------------------- B02: undefined metric is never 0


B02_DATA = rows(("A", 1, 0.9, 9), ("A", 1, 0.1, 1), ("A", 0, 0.2, 5),
                ("B", 1, 0.9, 17), ("B", 1, 0.1, 3), ("B", 0, 0.2, 5),
                ("C", 0, 0.2, 8))


def test_B02_recall_of_group_without_positives_is_not_evaluable(tmp_path, capsys):
    policy = policy_file(tmp_path, "  - {id: recall-gap, kind: slice_gap, metric: recall, slice_by: [group], max_gap: 0.1}\n",
                         subject=SUBJECT)
    data = write_data(B02_DATA, tmp_path, "csv")
    run = cli_check(policy, data, capsys=capsys)
    r = rule(run.report, "recall-gap")
    assert run.code == 3 and r["status"] == "not_evaluable"
    assert "group C has 0 positive labels, recall undefined" in r["message"]
    assert r["value"] is None  # not 0 (gap 0.9, FAIL) and not 1
    c = by_slice(r, "group")["C"]
    assert c["value"] is None and c["undefined_reason"] == "0 positive labels"
    text = (tmp_path / "policy.report.json").read_text()
    assert "NaN" not in text and "Infinity" not in text  # valid JSON: null, never NaN
    assert "N/A" in run.out and "recall-gap" in run.out


def test_B02_on_undefined_skip_judges_the_others_and_says_so(tmp_path, capsys):
    policy = policy_file(tmp_path, "  - {id: recall-gap, kind: slice_gap, metric: recall, slice_by: [group], max_gap: 0.1,\n"
                                   "     on_undefined: skip}\n", subject=SUBJECT)
    run = cli_check(policy, write_data(B02_DATA, tmp_path, "csv"), capsys=capsys)
    r = rule(run.report, "recall-gap")
    assert run.code == 0 and r["status"] == "pass"
    assert r["value"] == pytest.approx(0.05, abs=1e-12)  # A 0.9 vs B 0.85
    assert "not judged: C (recall undefined: 0 positive labels)" in r["message"]  # the warning
    assert any("skipped (undefined): C (0 positive labels)" in n for n in r["notes"])
    assert by_slice(r, "group")["C"]["value"] is None


# The whole class: each metric that can be undefined, for each slice rule kind, in each fast format.
# (group C is built so that exactly this metric is undefined there)
UNDEFINED = {
    "recall": (rows(("C", 0, 0.2, 6)), "0 positive labels"),
    "false_negative_rate": (rows(("C", 0, 0.7, 6)), "0 positive labels"),
    "auc": (rows(("C", 1, 0.7, 6)), "only one label class present"),
    "false_positive_rate": (rows(("C", 1, 0.7, 3), ("C", 1, 0.2, 3)), "0 negative labels"),
    "precision": (rows(("C", 1, 0.2, 3), ("C", 0, 0.1, 3)), "0 predicted positives"),
    "selection_rate": (rows(("C", 1, 0.7, 3), ("C", 0, 0.1, 3)), "weight 0 on all 6 rows"),  # with weight 0
    "accuracy": (rows(("C", 1, 0.7, 3), ("C", 0, 0.1, 3)), "weight 0 on all 6 rows"),
}
AB = rows(("A", 1, 0.9, 8), ("A", 1, 0.2, 2), ("A", 0, 0.1, 6), ("A", 0, 0.8, 4),
          ("B", 1, 0.9, 7), ("B", 1, 0.2, 3), ("B", 0, 0.1, 7), ("B", 0, 0.8, 3))
KIND_BOUND = {"slice_gap": "max_gap: 1.0", "slice_metric": "min: 0.0"}


@pytest.mark.parametrize("fmt", EVERY_FORMAT)
@pytest.mark.parametrize("kind", sorted(KIND_BOUND))
@pytest.mark.parametrize("metric", sorted(UNDEFINED))
def test_B02_undefined_metric_class_every_kind_and_format(metric, kind, fmt, tmp_path):
    c_rows, reason = UNDEFINED[metric]
    df = pd.concat([AB, c_rows], ignore_index=True)
    df["w"] = np.where(df["group"] == "C", 0.0 if metric in ("selection_rate", "accuracy") else 1.0, 1.0)
    subject = SUBJECT + "  example_weight: w\n"
    body = (f"  - {{id: strict, kind: {kind}, metric: {metric}, slice_by: [group], {KIND_BOUND[kind]}}}\n"
            f"  - {{id: skip, kind: {kind}, metric: {metric}, slice_by: [group], {KIND_BOUND[kind]}, on_undefined: skip}}\n")
    policy = policy_file(tmp_path, body, subject=subject)
    run = check_format(policy, df, fmt, tmp_path)
    strict, skip = rule(run.report, "strict"), rule(run.report, "skip")
    assert strict["status"] == "not_evaluable", strict["message"]
    assert f"group C has {reason}, {metric} undefined" in strict["message"]
    assert strict["value"] is None
    assert by_slice(strict, "group")["C"]["value"] is None
    assert skip["status"] == "pass" and skip["value"] is not None and math.isfinite(skip["value"])
    assert f"not judged: C ({metric} undefined: {reason})" in skip["message"]
    assert run.code == 3


# ---------------------------------------------------------------- B03 / B10: multiclass


CLASSES = ["approved", "review", "denied"]


def multiclass_frame(labels_present=(0, 1, 2), n=300, seed=0, label_as="id") -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    y = rng.choice(list(labels_present), n)
    logits = rng.normal(size=(n, 3))
    logits[np.arange(n), y] += 1.5
    p = np.exp(logits) / np.exp(logits).sum(1, keepdims=True)
    return pd.DataFrame({"gender": rng.choice(["F", "M"], n),
                         "label": [CLASSES[i] for i in y] if label_as == "name" else y,
                         "p_approved": p[:, 0], "p_review": p[:, 1], "p_denied": p[:, 2]})


MC_SUBJECT = ("  label: label\n  classes: [approved, review, denied]\n"
              "  prediction_columns: [p_approved, p_review, p_denied]\n")


def test_B03_absent_class_not_evaluable_others_still_run(tmp_path, capsys):
    (tmp_path / "card.json").write_text(json.dumps({"schema_version": "0.0.2", "model_details": {"name": "m"}}))
    body = "".join(f"  - {{id: auc-gap-{c}, kind: slice_gap, metric: auc, class: {c}, slice_by: [gender], max_gap: 0.3}}\n"
                   for c in CLASSES) + "  - {id: card, kind: model_card, required: [model_details.name]}\n"
    policy = policy_file(tmp_path, body, subject=MC_SUBJECT + "  model_card: card.json\n")
    df = multiclass_frame(labels_present=(0, 1))  # the model outputs 3 probabilities; labels only 0, 1
    run = cli_check(policy, write_data(df, tmp_path, "csv"), capsys=capsys)
    statuses = {r["id"]: r["status"] for r in run.report["rules"]}
    assert statuses == {"auc-gap-approved": "pass", "auc-gap-review": "pass", "auc-gap-denied": "not_evaluable",
                        "card": "pass"}
    denied = rule(run.report, "auc-gap-denied")
    assert "class denied (id 2) absent from labels" in denied["message"]
    assert run.code == 3 and run.report["verdict"] == "not_evaluable"  # aggregated, no crash

    # a failing rule elsewhere: fail outranks not_evaluable in the exit code
    policy2 = policy_file(tmp_path, body.replace("max_gap: 0.3}\n  - {id: auc-gap-review", "max_gap: 0.0}\n  - {id: auc-gap-review"),
                          "p2.yaml", subject=MC_SUBJECT + "  model_card: card.json\n")
    run2 = cli_check(policy2, tmp_path / "data.csv", capsys=capsys)
    assert rule(run2.report, "auc-gap-approved")["status"] == "fail" and run2.code == 1


def test_B10_class_by_name_or_id_gives_the_same_one_vs_rest_result(tmp_path, capsys):
    body = ("  - {id: by-name, kind: slice_gap, metric: recall, class: approved, slice_by: [gender], max_gap: 0.1}\n"
            "  - {id: by-id, kind: slice_gap, metric: recall, class: 0, slice_by: [gender], max_gap: 0.1}\n"
            "  - {id: review, kind: slice_metric, metric: recall, class: review, slice_by: [gender], min: 0.0}\n")
    policy = policy_file(tmp_path, body, subject=MC_SUBJECT)
    df = multiclass_frame(seed=3)
    run = cli_check(policy, write_data(df, tmp_path, "csv"), capsys=capsys)
    name, by_id = rule(run.report, "by-name"), rule(run.report, "by-id")
    assert name["value"] == by_id["value"] and name["measurements"] == by_id["measurements"]
    assert name["message"].startswith("class approved (id 0): recall")  # the report shows name and id
    assert all(m["class"] == "approved" and m["class_id"] == 0 for m in name["measurements"])
    # one-vs-rest by hand: label == approved, positive when p_approved > 0.5
    for g, m in by_slice(name, "gender").items():
        sub = df[df.gender == g]
        pos = sub.label == 0
        assert m["value"] == pytest.approx(((sub.p_approved > 0.5) & pos).sum() / pos.sum(), abs=1e-12)
    assert rule(run.report, "review")["measurements"][0]["class_id"] == 1
    # labels written as class names give the same report as labels written as ids
    named = multiclass_frame(seed=3, label_as="name")
    run_named = cli_check(policy, write_data(named, tmp_path / "named", "csv"), capsys=capsys)
    assert comparable(run_named.report) == comparable(run.report)


def test_B10_unknown_class_is_a_located_policy_error(tmp_path, capsys):
    body = ("  - {id: r, kind: slice_gap, metric: recall, class: rejected, slice_by: [gender], max_gap: 0.1}\n"
            "  - {id: s, kind: slice_gap, metric: recall, class: aproved, slice_by: [gender], max_gap: 0.1}\n"
            "  - {id: t, kind: slice_gap, metric: recall, class: 5, slice_by: [gender], max_gap: 0.1}\n"
            "  - {id: u, kind: slice_gap, metric: recall, slice_by: [gender], max_gap: 0.1}\n")
    policy = policy_file(tmp_path, body, subject=MC_SUBJECT)
    assert main(["lint", str(policy)]) == 2
    out = capsys.readouterr().out
    valid = "classes: approved (id 0), review (id 1), denied (id 2)"
    assert f"{policy}:8:53: unknown class 'rejected'; {valid} (rules[0].class)" in out
    assert f"unknown class 'aproved'; did you mean 'approved'?; {valid}" in out
    assert f"{policy}:10:53: class id 5 is out of range; {valid}" in out
    assert f"{policy}:11:5: the subject is multiclass (classes: approved, review, denied): a slice rule needs `class:`" in out
    assert main(["check", str(policy), "--data", "x.csv", "-q", "--no-cache"]) == 2
    assert "Traceback" not in capsys.readouterr().err


def test_B10_class_without_vocabulary_and_unknown_label_values(tmp_path, capsys):
    policy = policy_file(tmp_path, "  - {id: r, kind: slice_gap, metric: recall, class: approved, slice_by: [g], max_gap: 0.1}\n")
    assert main(["lint", str(policy)]) == 2
    assert "`class` needs the class vocabulary: add `classes: [...]` to `subject:`" in capsys.readouterr().out
    policy = policy_file(tmp_path, "  - {id: r, kind: slice_gap, metric: recall, class: approved, slice_by: [gender], max_gap: 1}\n",
                         "p2.yaml", subject=MC_SUBJECT)
    df = multiclass_frame(label_as="name")
    df.loc[5, "label"] = "maybe"
    run = cli_check(policy, write_data(df, tmp_path, "csv"), capsys=capsys)
    r = rule(run.report, "r")
    assert run.code == 2 and r["status"] == "error"
    assert "1 rows hold a value that is not a class; values seen: 'maybe' (1)" in r["message"]
    assert "classes (name (id)): approved (0), review (1), denied (2)" in r["message"]


def test_B10_multiclass_vector_column_and_logits(tmp_path):
    """The scores may also come as one vector per row (TFRecord float_list, a DataFrame of lists),
    and as logits (softmax across the classes)."""
    df = multiclass_frame(seed=5)
    probs = df[["p_approved", "p_review", "p_denied"]].to_numpy()
    vec = df[["gender", "label"]].assign(p=list(probs))
    logits = df[["gender", "label"]].assign(p=list(np.log(probs) + 3.0))
    body = "  - {id: r, kind: slice_gap, metric: auc, class: review, slice_by: [gender], max_gap: 1}\n"
    base = policy_file(tmp_path, body, subject=MC_SUBJECT)
    p_vec = policy_file(tmp_path, body, "vec.yaml", subject="  label: label\n  classes: [approved, review, denied]\n"
                                                              "  prediction: p\n")
    p_logit = policy_file(tmp_path, body, "logit.yaml", subject="  label: label\n  classes: [approved, review, denied]\n"
                                                                  "  prediction: p\n  prediction_type: logits\n")
    want = rule(api_check(base, df).report, "r")["measurements"]
    got = rule(api_check(p_vec, vec).report, "r")["measurements"]
    assert [m["value"] for m in got] == pytest.approx([m["value"] for m in want], abs=1e-12)
    got = rule(api_check(p_logit, logits).report, "r")["measurements"]
    assert [m["value"] for m in got] == pytest.approx([m["value"] for m in want], abs=1e-9)


# ---------------------------------------------------------------- B07: missing TFMA metric is an ERROR


@pytest.mark.slow
def test_B07_tfma_wiring_bug_missing_fairness_metrics_is_error(tmp_path, capsys, monkeypatch):
    from xml.etree import ElementTree

    from rai_policy.evidence import tfma_adapter

    original = tfma_adapter.metric_configs
    monkeypatch.setattr(tfma_adapter, "metric_configs",
                        lambda levels: [c for c in original(levels) if c.class_name != "FairnessIndicators"])
    rng = np.random.default_rng(1)
    df = pd.DataFrame({"race": rng.choice(["A", "B", "C"], 300), "label": rng.integers(0, 2, 300),
                       "score": rng.integers(0, 16, 300) / 16})
    body = "".join(f"  - {{id: fpr-gap-{t}, kind: slice_gap, metric: false_positive_rate, slice_by: [race], "
                   f"max_gap: 0.5, decision_threshold: {t}}}\n" for t in (0.3, 0.5, 0.7))
    policy = policy_file(tmp_path, body, subject=SUBJECT)
    junit = tmp_path / "junit.xml"
    run = cli_check(policy, write_data(df, tmp_path, "csv"), "--engine", "tfma", "--report", f"junit={junit}",
                    capsys=capsys)
    assert run.code == 2 and run.report["verdict"] == "error"
    assert all(r["status"] == "error" for r in run.report["rules"])
    assert "false_positive_rate@0.5 not computed for slice race=A" in rule(run.report, "fpr-gap-0.5")["message"]
    root = ElementTree.parse(junit).getroot()
    cases = root.findall(".//testcase")
    assert len(cases) == 3 and all(c.find("error") is not None for c in cases)  # an error: not a skip, not a pass
    assert all(c.find("skipped") is None and c.find("failure") is None for c in cases)


def test_B07_incomplete_engine_output_is_error_not_pass(tmp_path, capsys, monkeypatch):
    """Engine-independent: a slice the engine returns without the metric the rule needs is an ERROR
    naming metric, threshold and slice (the local engine simulates the wiring bug here)."""
    import dataclasses

    from rai_policy.evidence import local_metrics

    original = local_metrics.compute_slice_metrics

    def without_fpr(*args, **kwargs):
        out = original(*args, **kwargs)
        return {k: dataclasses.replace(v, rows=tuple(dataclasses.replace(
            r, metrics={m: x for m, x in r.metrics.items() if m != "false_positive_rate"}) for r in v.rows))
            for k, v in out.items()}

    monkeypatch.setattr(local_metrics, "compute_slice_metrics", without_fpr)
    policy = policy_file(tmp_path, "  - {id: fpr, kind: slice_gap, metric: false_positive_rate, slice_by: [group], max_gap: 1}\n"
                                   "  - {id: rec, kind: slice_gap, metric: recall, slice_by: [group], max_gap: 1}\n",
                         subject=SUBJECT)
    junit = tmp_path / "junit.xml"
    run = cli_check(policy, write_data(AB, tmp_path, "csv"), "--report", f"junit={junit}", capsys=capsys)
    assert run.code == 2
    fpr = rule(run.report, "fpr")
    assert fpr["status"] == "error"
    assert "metric false_positive_rate@0.5 not computed for slice group=A, group=B" in fpr["message"]
    assert rule(run.report, "rec")["status"] == "pass"  # the other rules still run
    assert "<error" in junit.read_text()


# ---------------------------------------------------------------- B08: string labels


def yes_no(n=40, seed=0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    y = rng.integers(0, 2, n)
    return pd.DataFrame({"group": rng.choice(["A", "B"], n), "label": y, "score": rng.integers(0, 16, n) / 16})


def test_B08_yes_no_labels_need_positive_label(tmp_path, capsys):
    df = yes_no()
    words = df.assign(label=np.where(df.label == 1, "yes", "no"))
    policy = policy_file(tmp_path, "  - {id: recall-gap, kind: slice_gap, metric: recall, slice_by: [group], max_gap: 0.1}\n",
                         subject=SUBJECT)
    run = cli_check(policy, write_data(words, tmp_path, "csv"), capsys=capsys)
    r = rule(run.report, "recall-gap")
    assert run.code == 2 and r["status"] == "error"
    n_yes, n_no = int((df.label == 1).sum()), int((df.label == 0).sum())
    assert "label column 'label' must hold 0/1; values seen: " in r["message"]
    assert f"'yes' ({n_yes})" in r["message"] and f"'no' ({n_no})" in r["message"]
    assert "positive_label" in r["message"]
    # with the mapping: computed, and equal to the 0/1 run
    mapped = cli_check(policy, tmp_path / "data.csv", "--positive-label", "yes", capsys=capsys)
    numeric = cli_check(policy, write_data(df, tmp_path / "num", "csv"), capsys=capsys)
    assert rule(mapped.report, "recall-gap")["status"] in ("pass", "fail")
    assert rule(mapped.report, "recall-gap")["measurements"] == rule(numeric.report, "recall-gap")["measurements"]


def test_B08_numeric_string_labels_equal_ints_whitespace_stripped(tmp_path):
    df = yes_no(seed=1)
    as_str = df.assign(label=df.label.astype(str))
    padded = as_str.copy()
    padded.loc[padded.index[padded.label == "1"][0], "label"] = " 1"  # the documented strip rule
    padded.loc[padded.index[padded.label == "0"][0], "label"] = "0 "
    policy = policy_file(tmp_path, "  - {id: recall-gap, kind: slice_gap, metric: recall, slice_by: [group], max_gap: 0.1}\n",
                         subject=SUBJECT)
    reports = {"int-df": api_check(policy, df), "str-df": api_check(policy, as_str), "padded-df": api_check(policy, padded),
               "padded-csv": check_format(policy, padded, "csv", tmp_path / "a"),
               "padded-parquet": check_format(policy, padded, "parquet", tmp_path / "b")}
    base = comparable(reports["int-df"].report)
    for name, run in reports.items():
        assert comparable(run.report) == base, name  # never a third class
    third = as_str.copy()
    third.loc[0, "label"] = "2"
    r = rule(api_check(policy, third).report, "recall-gap")
    assert r["status"] == "error" and "'2' (1)" in r["message"]


@pytest.mark.slow
def test_B08_tfrecord_int_and_bytes_labels_equal_pandas(tmp_path):
    df = yes_no(seed=2)
    policy = policy_file(tmp_path, "  - {id: recall-gap, kind: slice_gap, metric: recall, slice_by: [group], max_gap: 0.1}\n",
                         subject=SUBJECT)
    base = comparable(api_check(policy, df).report)
    as_int = check_format(policy, df, "tfrecord", tmp_path / "int")
    as_bytes = check_format(policy, df.assign(label=df.label.astype(str)), "tfrecord", tmp_path / "bytes")
    assert comparable(as_int.report) == base and comparable(as_bytes.report) == base


# ---------------------------------------------------------------- B12 / B13 / B14: DP accounting


def dp_check(tmp_path, capsys, record: dict, rules: str):
    training = tmp_path / "training.json"
    training.write_text(json.dumps(record))
    policy = policy_file(tmp_path, rules)
    return cli_check(policy, None, "--training", str(training), capsys=capsys)


def test_B12_step_convention_counts_partial_batches_and_fails(tmp_path, capsys):
    from rai_policy.evidence.privacy_adapter import TrainingRecord, compute_privacy

    def eps(steps):
        return compute_privacy(TrainingRecord(examples=1000, batch_size=300, steps=steps, noise_multiplier=1.0,
                                              sampling="shuffle"), "rdp", 1e-5).epsilon

    e10, e11, e12 = eps(10), eps(11), eps(12)
    assert e10 < e11 < e12  # monotone in steps
    limit = (e10 + e12) / 2
    record = {"examples": 1000, "batch_size": 300, "epochs": 3, "noise_multiplier": 1.0, "sampling": "shuffle"}
    run = dp_check(tmp_path, capsys, record, f"  - {{id: eps, kind: dp_budget, max_epsilon: {limit!r}, delta: 1.0e-5}}\n")
    r = rule(run.report, "eps")
    assert run.code == 1 and r["status"] == "fail"
    assert r["measurements"][0]["steps"] == 12 and "12 steps" in run.out  # printed, not 10
    assert r["value"] == pytest.approx(e12, rel=1e-12)
    # logged steps win over epochs
    run = dp_check(tmp_path, capsys, {**record, "steps": 10},
                   f"  - {{id: eps, kind: dp_budget, max_epsilon: {limit!r}, delta: 1.0e-5}}\n")
    assert run.code == 0 and rule(run.report, "eps")["measurements"][0]["steps"] == 10


def test_B13_accountant_named_by_policy_and_reported(tmp_path, capsys):
    record = {"examples": 48000, "batch_size": 9600, "steps": 50, "noise_multiplier": 3.0, "sampling": "poisson"}  # q = 0.2
    delta = 1 / 48000
    rules = (f"  - {{id: eps-rdp, kind: dp_budget, max_epsilon: 2.0, delta: {delta!r}, accountant: rdp}}\n"
             f"  - {{id: eps-pld, kind: dp_budget, max_epsilon: 2.0, delta: {delta!r}, accountant: pld}}\n"
             f"  - {{id: eps-default, kind: dp_budget, max_epsilon: 2.0, delta: {delta!r}}}\n")
    run = dp_check(tmp_path, capsys, record, rules)
    rdp, pld, default = (rule(run.report, i) for i in ("eps-rdp", "eps-pld", "eps-default"))
    assert rdp["measurements"][0]["accountant"] == "rdp" and pld["measurements"][0]["accountant"] == "pld"
    assert rdp["status"] == "fail" and pld["status"] == "pass"  # the verdict depends on the accountant
    assert rdp["value"] == pytest.approx(2.169, abs=2e-3) and pld["value"] == pytest.approx(1.961, abs=2e-3)
    assert default["measurements"][0]["accountant"] == "rdp"  # the documented default, never the favourable one
    assert "rdp" in rdp["message"] and "pld" in pld["message"]


def test_B14_batch_larger_than_dataset_is_input_error(tmp_path, capsys):
    run = dp_check(tmp_path, capsys, {"examples": 100, "batch_size": 128, "noise_multiplier": 1.0, "epochs": 1,
                                      "sampling": "poisson"},
                   "  - {id: eps, kind: dp_budget, max_epsilon: 3, delta: 1.0e-5}\n")
    r = rule(run.report, "eps")
    assert run.code == 2 and r["status"] == "error"
    assert "sampling rate q = 1.28 > 1; batch_size exceeds examples" in r["message"]
    assert "Traceback" not in run.out + run.err
    run = dp_check(tmp_path, capsys, {"examples": 128, "batch_size": 128, "noise_multiplier": 1.0, "epochs": 1,
                                      "sampling": "poisson"},
                   "  - {id: eps, kind: dp_budget, max_epsilon: 100, delta: 1.0e-5}\n")
    r = rule(run.report, "eps")
    assert run.code == 0 and r["measurements"][0]["sampling_rate"] == 1.0
    assert any("no subsampling amplification" in n for n in r["notes"])


# ---------------------------------------------------------------- B15: inclusive bounds, exact counts


def test_B15_gap_exactly_at_bound_passes(tmp_path, capsys):
    df = rows(("A", 1, 0.9, 8), ("A", 1, 0.1, 2), ("B", 1, 0.9, 7), ("B", 1, 0.1, 3))
    policy = policy_file(tmp_path, "  - {id: recall-gap, kind: slice_gap, metric: recall, slice_by: [group], max_gap: 0.1}\n",
                         subject=SUBJECT)
    run = cli_check(policy, write_data(df, tmp_path, "csv"), capsys=capsys)
    r = rule(run.report, "recall-gap")
    assert 0.8 - 0.7 > 0.1  # the float trap
    assert run.code == 0 and r["status"] == "pass" and r["value"] == pytest.approx(0.1, abs=1e-12)
    a = by_slice(r, "group")["A"]
    assert (a["tp"], a["fn"]) == (8, 2)  # numerator and denominator, not only a rounded float


@pytest.mark.parametrize("n_b,status", [(200, "pass"), (199, "fail")])
def test_B15_representation_share_boundary(n_b, status, tmp_path, capsys):
    df = pd.DataFrame({"group": ["A"] * (1000 - n_b) + ["B"] * n_b})
    policy = policy_file(tmp_path, "  - {id: rep, kind: representation, feature: group, min_share: 0.2}\n")
    run = cli_check(policy, write_data(df, tmp_path, "csv"), capsys=capsys)
    r = rule(run.report, "rep")
    assert r["status"] == status
    b = next(m for m in r["measurements"] if m["slice"] == {"group": "B"})
    assert (b["numerator"], b["denominator"]) == (n_b, 1000)


# ---------------------------------------------------------------- B16: a feature missing from a shard


B16_POLICY = ("  - {id: rep, kind: representation, feature: group, min_share: 0.2}\n"
              "  - {id: rep-exclude, kind: representation, feature: group, min_share: 0.2, on_missing: exclude}\n"
              "  - {id: gap, kind: slice_gap, metric: recall, slice_by: [group], max_gap: 1, on_missing: exclude}\n")


def b16_frames():
    rng = np.random.default_rng(16)
    shard1 = pd.DataFrame({"group": rng.choice(["A", "B"], 500), "label": rng.integers(0, 2, 500),
                           "score": rng.integers(0, 16, 500) / 16})
    shard2 = pd.DataFrame({"label": rng.integers(0, 2, 500), "score": rng.integers(0, 16, 500) / 16})
    return shard1, shard2


def _b16_assert(report):
    rep, exc, gap = rule(report, "rep"), rule(report, "rep-exclude"), rule(report, "gap")
    assert rep["status"] == "error" and "group: 500 of 1000 rows have no value" in rep["message"]
    assert {m["denominator"] for m in exc["measurements"]} == {1000}  # the denominator includes missing rows
    assert sum(m["numerator"] for m in exc["measurements"]) == 500
    assert "rows: 500 in groups + 500 with no group value = 1000" in gap["notes"]


def test_B16_missing_feature_counted_csv_and_pandas(tmp_path, capsys):
    shard1, shard2 = b16_frames()
    merged = pd.concat([shard1, shard2], ignore_index=True)
    policy = policy_file(tmp_path, B16_POLICY, subject=SUBJECT)
    csv = cli_check(policy, write_data(merged, tmp_path, "csv"), capsys=capsys)
    two_csv = cli_check(policy, [write_data(shard1, tmp_path, "csv", stem="s1"),
                                 write_data(shard2, tmp_path, "csv", stem="s2")], capsys=capsys)
    frame = api_check(policy, merged)
    for run in (csv, two_csv, frame):
        _b16_assert(run.report)
        assert run.code == 2
    assert comparable(csv.report) == comparable(two_csv.report) == comparable(frame.report)


@pytest.mark.slow
def test_B16_two_tfrecord_shards_equal_merged_file(tmp_path, capsys):
    from tests.formats import write_tfrecord

    shard1, shard2 = b16_frames()
    policy = policy_file(tmp_path, B16_POLICY, subject=SUBJECT)
    s1 = write_tfrecord(shard1, tmp_path / "part-00000.tfrecord")
    s2 = write_tfrecord(shard2, tmp_path / "part-00001.tfrecord")
    shards = cli_check(policy, [s1, s2], capsys=capsys)
    glob = cli_check(policy, str(tmp_path / "part-*.tfrecord"), capsys=capsys)
    merged = write_tfrecord(pd.concat([shard1, shard2], ignore_index=True), tmp_path / "merged.tfrecord")
    one = cli_check(policy, merged, capsys=capsys)
    frame = api_check(policy, pd.concat([shard1, shard2], ignore_index=True))
    for run in (shards, glob, one):
        _b16_assert(run.report)
        assert comparable(run.report) == comparable(frame.report)


# ---------------------------------------------------------------- B17: None, ints with NaN, lists


def b17_frame(with_list: bool) -> pd.DataFrame:
    df = pd.DataFrame({"group": ["A", "B", None, "A"] * 5, "age_bucket": [1, 2, np.nan, 1] * 5,
                       "label": [1, 0, 1, 1] * 5, "score": [0.75, 0.25, 0.5, 0.25] * 5})
    if with_list:
        df["group"] = df["group"].astype(object)
        df.at[3, "group"] = ["A", "B"]
    return df


B17_POLICY = ("  - {id: by-age, kind: slice_metric, metric: selection_rate, slice_by: [age_bucket], min: 0, on_missing: exclude}\n"
              "  - {id: by-group, kind: slice_metric, metric: selection_rate, slice_by: [group], min: 0}\n"
              "  - {id: by-group-exclude, kind: slice_metric, metric: selection_rate, slice_by: [group], min: 0,\n"
              "     on_missing: exclude}\n")


def _b17_assert(report):
    ages = rule(report, "by-age")
    assert sorted(m["slice"]["age_bucket"] for m in ages["measurements"]) == ["1", "2"]  # not "1.0"
    group = rule(report, "by-group")
    assert group["status"] == "error" and "group: 5 of 20 rows have no value" in group["message"]
    exc = rule(report, "by-group-exclude")
    assert exc["status"] == "pass" and "rows: 15 in groups + 5 with no group value = 20" in exc["notes"]


@pytest.mark.parametrize("fmt", FAST_FORMATS)
def test_B17_int_column_with_nan_and_none_group(fmt, tmp_path):
    policy = policy_file(tmp_path, B17_POLICY, subject=SUBJECT)
    run = check_format(policy, b17_frame(False), fmt, tmp_path)
    _b17_assert(run.report)
    assert comparable(run.report) == comparable(api_check(policy, b17_frame(False)).report)


def test_B17_list_valued_group_is_data_error_naming_the_row(tmp_path):
    policy = policy_file(tmp_path, B17_POLICY, subject=SUBJECT)
    run = api_check(policy, b17_frame(True))
    assert run.code == 2
    for rid in ("by-group", "by-group-exclude"):
        assert "column 'group': multi-valued group at row 4" in rule(run.report, rid)["message"]


@pytest.mark.slow
def test_B17_tfrecord_same_as_dataframe(tmp_path):
    policy = policy_file(tmp_path, B17_POLICY, subject=SUBJECT)
    run = check_format(policy, b17_frame(False), "tfrecord", tmp_path, int_columns=("age_bucket",))
    _b17_assert(run.report)
    assert comparable(run.report) == comparable(api_check(policy, b17_frame(False)).report)
    # a multi-valued bytes feature is the same data error
    listy = check_format(policy, b17_frame(True), "tfrecord", tmp_path / "l", int_columns=("age_bucket",))
    assert "column 'group': multi-valued group at row 4" in rule(listy.report, "by-group")["message"]


# ---------------------------------------------------------------- B20: model card schema


@pytest.mark.parametrize("card,status,expected", [
    ({"schema_version": "0.0.2", "model_details": {}, "considerations": {"limitations": [{"description": "x"}]}},
     "fail", "missing or empty: model_details.name"),
    ({"schema_version": "0.0.2", "modelDetails": {"name": "m"}, "considerations": {"limitations": [{"description": "x"}]}},
     "fail", "found 'modelDetails': did you mean 'model_details'?"),
    ({"schema_version": "0.0.9", "model_details": {"name": "m"}}, "error", "declares schema_version '0.0.9'"),
    ({"schema_version": "0.0.2", "model_details": {"name": "None"}, "considerations": {"limitations": [{"description": " "}]}},
     "fail", "missing or empty: model_details.name, considerations.limitations"),
], ids=["a-name-missing", "b-camel-case", "c-unknown-version", "none-and-blank"])
def test_B20_model_card_fields_and_schema_version(card, status, expected, tmp_path, capsys):
    path = tmp_path / "card.json"
    path.write_text(json.dumps(card))
    policy = policy_file(tmp_path, "  - {id: card, kind: model_card, required: [model_details.name, considerations.limitations]}\n")
    run = cli_check(policy, None, "--model-card", str(path), capsys=capsys)
    r = rule(run.report, "card")
    assert r["status"] == status and expected in r["message"]
    assert run.code == (2 if status == "error" else 1)
    assert "Model Card for None" not in run.out


# ---------------------------------------------------------------- B21: many slices, bounded time


def b21_frame(n=10_000, seed=21) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    return pd.DataFrame({"region": rng.choice([f"r{i}" for i in range(6)], n),
                         "store": rng.choice([f"s{i:02d}" for i in range(50)], n),
                         "label": rng.integers(0, 2, n), "score": rng.random(n)})


B21_POLICY = ("  - {id: recall-gap, kind: slice_gap, metric: recall, slice_by: [region, store], max_gap: 1,\n"
              "     min_slice_size: 30, on_undefined: skip}\n")


def test_B21_300_slices_local_engine_fast_and_counted(tmp_path, capsys):
    df = b21_frame()
    policy = policy_file(tmp_path, B21_POLICY, subject=SUBJECT)
    data = write_data(df, tmp_path, "csv")
    t = time.perf_counter()
    run = cli_check(policy, data, capsys=capsys)
    elapsed = time.perf_counter() - t
    assert elapsed < 30, elapsed  # well under a minute on CPU
    r = rule(run.report, "recall-gap")
    assert r["status"] == "pass" and len(r["measurements"]) == 300
    counts = df.groupby(["region", "store"]).size()
    small = int((counts < 30).sum())
    assert small > 0
    assert f"300 slice(s) evaluated: {300 - small} judged, {small} below min_slice_size=30, 0 with recall undefined" in r["notes"]
    assert f"{small} slice(s) below min_slice_size=30 not judged" in r["message"]


def test_B21_max_slices_is_a_clear_error(tmp_path, capsys):
    policy = policy_file(tmp_path, B21_POLICY, subject=SUBJECT)
    run = cli_check(policy, write_data(b21_frame(), tmp_path, "csv"), "--max-slices", "100", capsys=capsys)
    r = rule(run.report, "recall-gap")
    assert run.code == 2 and r["status"] == "error"
    assert "region × store has 300 slices, more than max_slices=100" in r["message"]


def test_B21_timeout_stops_every_stage_with_elapsed_time(tmp_path, capsys, monkeypatch):
    from rai_policy.evidence import local_metrics, tfdv_adapter

    def hang(*args, **kwargs):
        time.sleep(5)
        raise AssertionError("not interrupted")

    monkeypatch.setattr(local_metrics, "compute_slice_metrics", hang)
    monkeypatch.setattr(tfdv_adapter, "feature_stats", hang)
    policy = policy_file(tmp_path, B21_POLICY + "  - {id: rep, kind: representation, feature: region, min_share: 0.01}\n",
                         subject=SUBJECT)
    data = write_data(b21_frame(2000), tmp_path, "csv")
    t = time.perf_counter()
    run = cli_check(policy, data, "--timeout", "0.5", capsys=capsys)
    elapsed = time.perf_counter() - t
    assert elapsed < 3, elapsed  # neither stage ran its 5 s
    assert run.code == 2
    for r in run.report["rules"]:
        assert r["status"] == "error" and "evidence gathering stopped after" in r["message"]
        assert "(--timeout 0.5 s)" in r["message"]


# ---------------------------------------------------------------- B22: NaN / inf predictions


def b22_frame() -> pd.DataFrame:
    df = rows(*[(g, i % 2, 0.25 + 0.5 * (i % 2), 1) for g in "AB" for i in range(20)])
    b = df.index[df.group == "B"]
    df.loc[b[:3], "score"] = np.nan
    df.loc[b[3], "score"] = np.inf
    return df


@pytest.mark.parametrize("fmt", EVERY_FORMAT)
def test_B22_non_finite_predictions_are_an_input_error_before_any_metric(fmt, tmp_path):
    policy = policy_file(tmp_path, "  - {id: auc-gap, kind: slice_gap, metric: auc, slice_by: [group], max_gap: 0.1}\n",
                         subject=SUBJECT)
    run = check_format(policy, b22_frame(), fmt, tmp_path)
    r = rule(run.report, "auc-gap")
    assert run.code == 2 and r["status"] == "error"
    assert "4 non-finite predictions (3 NaN, 1 inf) in group=B" in r["message"]
    assert r["measurements"] == []  # no metric computed on NaN or inf


def test_B22_drop_non_finite_predictions_drops_and_reports(tmp_path, capsys):
    policy = policy_file(tmp_path, "  - {id: auc-gap, kind: slice_gap, metric: auc, slice_by: [group], max_gap: 0.1}\n",
                         subject=SUBJECT + "  drop_non_finite_predictions: true\n")
    run = cli_check(policy, write_data(b22_frame(), tmp_path, "csv"), capsys=capsys)
    r = rule(run.report, "auc-gap")
    assert run.code == 0 and r["status"] == "pass"
    assert run.report["evidence"]["dropped_non_finite_predictions"] == 4
    assert "4 rows with non-finite predictions dropped (drop_non_finite_predictions)" in run.report["evidence"]["notes"]
    assert by_slice(r, "group")["B"]["count"] == 16
    assert "rows: 36 in groups + 0 with no group value = 36" in r["notes"]


def test_B22_non_finite_spread_over_groups_and_multiclass(tmp_path):
    df = b22_frame()
    df.loc[0, "score"] = -np.inf
    policy = policy_file(tmp_path, "  - {id: g, kind: slice_gap, metric: auc, slice_by: [group], max_gap: 1}\n", subject=SUBJECT)
    msg = rule(api_check(policy, df).report, "g")["message"]
    assert "5 non-finite predictions (3 NaN, 2 inf) — group=A 1 (0 NaN, 1 inf), group=B 4 (3 NaN, 1 inf)" in msg
    mc = multiclass_frame()
    mc.loc[[1, 2], "p_review"] = np.nan
    policy = policy_file(tmp_path, "  - {id: c, kind: slice_gap, metric: auc, class: review, slice_by: [gender], max_gap: 1}\n",
                         "mc.yaml", subject=MC_SUBJECT)
    msg = rule(api_check(policy, mc).report, "c")["message"]
    assert "2 non-finite rows with a non-finite class score (2 NaN, 0 inf)" in msg


# ---------------------------------------------------------------- B23: example weights


B23_DATA = rows(("A", 1, 0.9, 3), ("A", 1, 0.1, 1), ("B", 1, 0.9, 3), ("B", 1, 0.1, 1))
B23_DATA["w"] = [1, 1, 1, 5, 1, 1, 1, 1]


def test_B23_weighted_recall_fails_unweighted_passes(tmp_path, capsys):
    policy = policy_file(tmp_path, "  - {id: recall-gap, kind: slice_gap, metric: recall, slice_by: [group], max_gap: 0.1}\n",
                         subject=SUBJECT)
    data = write_data(B23_DATA, tmp_path, "csv")
    weighted = cli_check(policy, data, "--example-weight", "w", capsys=capsys)
    r = rule(weighted.report, "recall-gap")
    assert weighted.code == 1 and r["status"] == "fail" and r["value"] == pytest.approx(0.375, abs=1e-12)
    assert by_slice(r, "group")["A"]["value"] == pytest.approx(3 / 8, abs=1e-12)
    plain = cli_check(policy, data, capsys=capsys)
    assert plain.code == 0 and rule(plain.report, "recall-gap")["value"] == pytest.approx(0.0, abs=1e-12)


@pytest.mark.parametrize("weights,expected", [
    ([1, 1, 1, -5, 1, 1, 1, 1], "example weight column 'w': 1 negative weights"),
    ([1, 1, 1, np.nan, 1, 1, 1, 1], "example weight column 'w': 1 rows are missing, non-numeric or infinite"),
    (None, "example weight column 'w' not in the data"),
])
def test_B23_bad_or_absent_weights_are_errors(weights, expected, tmp_path, capsys):
    df = B23_DATA.drop(columns="w") if weights is None else B23_DATA.assign(w=weights)
    policy = policy_file(tmp_path, "  - {id: recall-gap, kind: slice_gap, metric: recall, slice_by: [group], max_gap: 0.1}\n",
                         subject=SUBJECT + "  example_weight: w\n")
    run = cli_check(policy, write_data(df, tmp_path, "csv"), capsys=capsys)
    r = rule(run.report, "recall-gap")
    assert run.code == 2 and r["status"] == "error" and expected in r["message"]


# ---------------------------------------------------------------- B24: SavedModel signatures


@pytest.mark.slow
def test_B24_serialized_example_signature_and_unknown_signature(tmp_path, capsys):
    import tensorflow as tf

    tf.keras.utils.set_random_seed(0)
    age = tf.keras.Input(shape=(1,), name="age")
    out = tf.keras.layers.Dense(1, activation="sigmoid")(age)
    model = tf.keras.Model(age, out)
    spec = {"age": tf.io.FixedLenFeature([1], tf.float32)}

    @tf.function(input_signature=[tf.TensorSpec([None], tf.string, name="examples")])
    def serve_examples(examples):
        return {"outputs": model(tf.io.parse_example(examples, spec)["age"])}

    @tf.function(input_signature=[tf.TensorSpec([None, 1], tf.float32, name="age")])
    def serve_raw(age):
        return {"outputs": model(age)}

    saved = tmp_path / "model"
    tf.saved_model.save(model, str(saved), signatures={"serving_default": serve_examples, "serving_raw": serve_raw})
    rng = np.random.default_rng(0)
    df = pd.DataFrame({"age": rng.normal(size=60), "group": rng.choice(["A", "B"], 60), "label": rng.integers(0, 2, 60)})
    data = write_data(df, tmp_path, "csv")
    policy = policy_file(tmp_path, "  - {id: sel, kind: slice_metric, metric: selection_rate, slice_by: [group], min: 0}\n",
                         subject="  label: label\n")
    run = cli_check(policy, data, "--model", str(saved), capsys=capsys)
    r = rule(run.report, "sel")
    assert run.code == 2 and r["status"] == "error"
    for part in ("examples", "string", "serving_default", "serving_raw", "signature", "TFRecord"):
        assert part in r["message"], part
    run = cli_check(policy, data, "--model", str(saved), "--signature", "serving_nope", capsys=capsys)
    r = rule(run.report, "sel")
    assert run.code == 2 and "serving_nope" in r["message"] and "serving_raw" in r["message"]
    run = cli_check(policy, data, "--model", str(saved), "--signature", "serving_raw", capsys=capsys)
    assert rule(run.report, "sel")["status"] == "pass"


# ---------------------------------------------------------------- B25: membership inference orientation


@pytest.mark.slow
def test_B25_attack_auc_verdict_independent_of_label_orientation(tmp_path, capsys):
    rng = np.random.default_rng(0)
    members, nonmembers = np.exp(rng.normal(-1.0, 1.0, 2000)), np.exp(rng.normal(-1.0 + 0.545, 1.0, 2000))
    loss = np.concatenate([members, nonmembers])
    policy = policy_file(tmp_path, "  - {id: mia, kind: membership_inference, max_attack_auc: 0.6}\n")
    results = []
    for member_value in (1, 0):
        path = tmp_path / f"mia{member_value}.csv"
        pd.DataFrame({"loss": loss, "member": [member_value] * 2000 + [1 - member_value] * 2000}).to_csv(path, index=False)
        results.append(cli_check(policy, None, "--membership-data", str(path), capsys=capsys))
    straight, flipped = (rule(r.report, "mia") for r in results)
    assert straight["status"] == flipped["status"] == "fail" and results[0].code == results[1].code == 1
    assert 0.62 < straight["value"] < 0.68 and straight["value"] == pytest.approx(flipped["value"], abs=1e-12)
    raw = straight["measurements"][0]["raw_auc"], flipped["measurements"][0]["raw_auc"]
    assert raw[0] == pytest.approx(1 - raw[1], abs=1e-12)
    assert "member = positive" in straight["measurements"][0]["convention"]


def test_B25_membership_rule_without_data_is_not_evaluable(tmp_path, capsys):
    policy = policy_file(tmp_path, "  - {id: mia, kind: membership_inference, max_attack_auc: 0.6}\n")
    run = cli_check(policy, None, capsys=capsys)
    assert run.code == 3 and "no membership-inference data given" in rule(run.report, "mia")["message"]


# ---------------------------------------------------------------- gaps


ODD_NAMES = ["Émigré", "A/B", "a,b", "Ünïcode / é", "<script>alert(1)</script>", 'say "hi"', "x & y", "1", "10"]


def test_gap_unicode_and_special_slice_values_round_trip(tmp_path, capsys):
    from xml.etree import ElementTree

    rng = np.random.default_rng(7)
    df = pd.DataFrame({"group": rng.choice(ODD_NAMES, 400), "label": rng.integers(0, 2, 400),
                       "score": rng.integers(0, 16, 400) / 16})
    df.loc[:len(ODD_NAMES) - 1, "group"] = ODD_NAMES  # every name present
    policy = policy_file(tmp_path, "  - {id: sel, kind: slice_metric, metric: selection_rate, slice_by: [group], max: 0.01}\n",
                         subject=SUBJECT)
    junit, html = tmp_path / "r.xml", tmp_path / "r.html"
    run = cli_check(policy, write_data(df, tmp_path, "csv"), "--report", f"junit={junit}", "--report", f"html={html}",
                    capsys=capsys)
    got = sorted(m["slice"]["group"] for m in rule(run.report, "sel")["measurements"])
    assert got == sorted(ODD_NAMES)
    assert json.loads((tmp_path / "policy.report.json").read_text(encoding="utf-8")) == run.report
    text = ElementTree.parse(junit).getroot()  # well-formed XML despite <script> and quotes
    assert "<script>alert(1)</script>" in ElementTree.tostring(text, encoding="unicode").replace("&lt;", "<").replace("&gt;", ">")
    assert "<script>alert(1)</script>" not in html.read_text(encoding="utf-8")  # escaped in HTML
    for fmt in ("parquet", "dataframe"):
        assert comparable(check_format(policy, df, fmt, tmp_path).report) == comparable(run.report)


def test_gap_duplicates_that_carry_a_slice_over_min_slice_size_are_reported(tmp_path, capsys):
    base = rows(("A", 1, 0.75, 10), ("A", 0, 0.25, 10))
    base["id"] = range(len(base))
    b = pd.DataFrame({"group": "B", "label": [1, 0, 1, 0, 1, 0], "score": 0.75, "id": range(100, 106)})
    dup = pd.concat([b, b.iloc[:4]], ignore_index=True)  # 4 exact duplicates: 10 rows, 6 distinct
    df = pd.concat([base, dup], ignore_index=True)
    policy = policy_file(tmp_path, "  - {id: sel, kind: slice_gap, metric: recall, slice_by: [group], max_gap: 1,\n"
                                   "     min_slice_size: 10}\n", subject=SUBJECT)
    run = cli_check(policy, write_data(df, tmp_path, "csv"), capsys=capsys)
    r = rule(run.report, "sel")
    assert r["status"] == "pass"
    assert "4 row(s) are exact duplicates of an earlier row (kept): B 4 of 10" in r["notes"]
    assert "only with their duplicate rows do these slices reach min_slice_size=10: B (6 distinct rows)" in r["notes"]
    assert by_slice(r, "group")["B"]["duplicate_rows"] == 4
    assert "4 of 30 rows are exact duplicates of an earlier row (kept, not removed)" in run.report["evidence"]["notes"]


def test_gap_min_slice_size_small_slices_not_judged(tmp_path, capsys):
    df = rows(("A", 1, 0.9, 20), ("A", 0, 0.1, 20), ("B", 1, 0.9, 20), ("B", 0, 0.1, 20), ("C", 1, 0.1, 3))
    policy = policy_file(tmp_path, "  - {id: floor, kind: slice_metric, metric: recall, slice_by: [group], min: 0.9,\n"
                                   "     min_slice_size: 5}\n", subject=SUBJECT)
    run = cli_check(policy, write_data(df, tmp_path, "csv"), capsys=capsys)
    r = rule(run.report, "floor")
    assert r["status"] == "pass"  # C's recall 0 is not judged on 3 rows …
    c = by_slice(r, "group")["C"]
    assert c["value"] == 0.0 and c["excluded"] == "fewer than min_slice_size=5 rows"  # … but is reported
    assert "1 slice(s) below min_slice_size=5 not judged" in r["message"]
    assert "1 slice(s) below min_slice_size=5 not judged: C (3 rows)" in r["notes"]


def test_B07_slice_dropped_by_the_engine_is_error(tmp_path, capsys, monkeypatch):
    """Rows not accounted for (groups + missing ≠ all rows) mean a slice was not computed: ERROR."""
    import dataclasses

    from rai_policy.evidence import local_metrics

    original = local_metrics.compute_slice_metrics

    def drop_b(*args, **kwargs):
        return {k: dataclasses.replace(v, rows=tuple(r for r in v.rows if r.slice != (("group", "B"),)))
                for k, v in original(*args, **kwargs).items()}

    monkeypatch.setattr(local_metrics, "compute_slice_metrics", drop_b)
    policy = policy_file(tmp_path, "  - {id: rec, kind: slice_metric, metric: recall, slice_by: [group], min: 0}\n",
                         subject=SUBJECT)
    run = cli_check(policy, write_data(AB, tmp_path, "csv"), capsys=capsys)
    r = rule(run.report, "rec")
    assert run.code == 2 and r["status"] == "error"
    assert "the slices of group account for 20 + 0 missing of 40 rows: the engine's output is incomplete" in r["message"]


@pytest.mark.slow
def test_B07_one_missing_threshold_errors_only_its_rule(tmp_path, capsys, monkeypatch):
    """Only the 0.5 rates are lost: the 0.5 rule is an ERROR, the 0.3 and 0.7 rules are judged."""
    from rai_policy.evidence import tfma_adapter

    original = tfma_adapter.read_metrics

    def drop_half(path):
        out = original(path)
        return {k: {m: v for m, v in metrics.items() if not m[0].endswith(("@0.5", "@0.50"))}
                for k, metrics in out.items()}

    monkeypatch.setattr(tfma_adapter, "read_metrics", drop_half)
    import pandas as pd

    data = tmp_path / "d.csv"
    pd.DataFrame({"y": [1, 0, 1, 0] * 5, "score": [0.9, 0.6, 0.4, 0.1] * 5,
                  "race": ["A", "A", "B", "B"] * 5}).to_csv(data, index=False)
    rules = "".join(f"  - {{id: fpr-{t}, kind: slice_gap, metric: false_positive_rate, slice_by: [race], "
                    f"max_gap: 1, decision_threshold: {t}}}\n" for t in (0.3, 0.5, 0.7))
    policy = tmp_path / "p.yaml"
    policy.write_text("version: 1\nname: b07\nsubject: {label: y, prediction: score}\nrules:\n" + rules)
    out = tmp_path / "r.json"
    from rai_policy.cli import main

    code = main(["check", str(policy), "--data", str(data), "--engine", "tfma", "-q", "--no-cache",
                 "--report", f"json={out}"])
    statuses = {r["id"]: (r["status"], r["message"]) for r in json.loads(out.read_text())["rules"]}
    assert code == 2
    assert statuses["fpr-0.5"][0] == "error" and "false_positive_rate@0.5 not computed" in statuses["fpr-0.5"][1]
    assert statuses["fpr-0.3"][0] == "pass" and statuses["fpr-0.7"][0] == "pass"
