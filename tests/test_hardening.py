"""Hardening beyond the field cases: the same data in every format gives the same report, bad
scores and labels are input errors, the safety properties (safe YAML, no eval, no escaping packs,
no raw rows in reports), deterministic and atomic reports, and large or odd data in bounded time."""
from __future__ import annotations

import json
import os
import re
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from rai_policy.cli import main
from rai_policy.report.model import TIME_FIELDS
from tests.formats import (FAST_FORMATS, api_check, by_slice, check_format, cli_check, comparable, rule,
                           write_data)
from tests.test_field_cases import SUBJECT, policy_file

PACKAGE = Path(__file__).resolve().parents[1] / "rai_policy"


# ---------------------------------------------------------------- one logical dataset, four formats

GROUPS = ["Ünïcode / é", "<script>alert('x')</script>", "A,b;c", '"quoted"', "10", "2", "NA", "null", "  padded  "]


def mixed_frame(n: int = 600, seed: int = 11) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    group = rng.choice(GROUPS, n).astype(object)
    group[:len(GROUPS)] = GROUPS
    blanks = rng.choice(n, 40, replace=False)
    group[blanks[:15]] = None  # missing
    group[blanks[15:30]] = ""  # empty string: missing too
    group[blanks[30:]] = "   "  # whitespace only: missing too
    bucket = rng.integers(1, 4, n).astype(float)
    bucket[rng.choice(n, 25, replace=False)] = np.nan  # an int column that pandas made float
    return pd.DataFrame({"group": group, "bucket": bucket, "rate": rng.choice([0.5, 2.5, 10.0], n),
                         "label": rng.integers(0, 2, n), "score": rng.integers(0, 17, n) / 16,
                         "w": rng.integers(1, 4, n).astype(float)})


MIXED_POLICY = (
    "  - {id: group-gap, kind: slice_gap, metric: recall, slice_by: [group], max_gap: 1, on_missing: exclude}\n"
    "  - {id: group-strict, kind: slice_gap, metric: recall, slice_by: [group], max_gap: 1}\n"
    "  - {id: bucket-floor, kind: slice_metric, metric: auc, slice_by: [bucket], min: 0, on_missing: exclude}\n"
    "  - {id: cross, kind: slice_metric, metric: selection_rate, slice_by: [group, bucket], max: 1,\n"
    "     on_missing: exclude, on_undefined: skip}\n"
    "  - {id: rate, kind: slice_gap, metric: false_positive_rate, slice_by: [rate], max_gap: 1}\n")


def _mixed_assertions(report: dict, df: pd.DataFrame) -> None:
    gap = rule(report, "group-gap")
    names = {m["slice"]["group"] for m in gap["measurements"]}
    assert names == {g.strip() for g in GROUPS}  # stripped, "NA"/"null" are text, unicode intact
    assert "rows: 560 in groups + 40 with no group value = 600" in gap["notes"]
    assert sum(m["count"] for m in gap["measurements"]) == 560
    strict = rule(report, "group-strict")
    assert strict["status"] == "error" and "group: 40 of 600 rows have no value" in strict["message"]
    buckets = {m["slice"]["bucket"] for m in rule(report, "bucket-floor")["measurements"]}
    assert buckets == {"1", "2", "3"}
    assert {m["slice"]["rate"] for m in rule(report, "rate")["measurements"]} == {"0.5", "2.5", "10"}
    cross = rule(report, "cross")
    assert "with no group, bucket value" in " ".join(cross["notes"])


@pytest.mark.parametrize("fmt", FAST_FORMATS)
def test_formats_give_identical_reports(fmt, tmp_path):
    df = mixed_frame()
    policy = policy_file(tmp_path, MIXED_POLICY, subject=SUBJECT + "  example_weight: w\n")
    run = check_format(policy, df, fmt, tmp_path)
    _mixed_assertions(run.report, df)
    reference = api_check(policy, df)
    assert comparable(run.report) == comparable(reference.report)


@pytest.mark.slow
def test_tfrecord_gives_the_same_report(tmp_path):
    df = mixed_frame()
    policy = policy_file(tmp_path, MIXED_POLICY + "  - {id: rep, kind: representation, feature: group, min_share: 0,\n"
                                                  "     on_missing: exclude}\n", subject=SUBJECT + "  example_weight: w\n")
    tf_run = check_format(policy, df, "tfrecord", tmp_path, int_columns=("bucket",))
    _mixed_assertions(tf_run.report, df)
    for fmt in FAST_FORMATS:
        assert comparable(check_format(policy, df, fmt, tmp_path / "x").report) == comparable(tf_run.report), fmt
    rep = rule(tf_run.report, "rep")
    assert sum(m["numerator"] for m in rep["measurements"]) == 560 and {m["denominator"] for m in rep["measurements"]} == {600}


def test_booleans_and_categoricals_normalise(tmp_path):
    df = pd.DataFrame({"flag": [True, False] * 20, "cat": pd.Categorical(["x", "y", None, "x"] * 10),
                       "nullable": pd.array([1, 2, None, 1] * 10, dtype="Int64"),
                       "label": [1, 0, 0, 1] * 10, "score": [0.75, 0.25, 0.5, 0.625] * 10})
    policy = policy_file(tmp_path, "".join(
        f"  - {{id: {c}, kind: slice_metric, metric: selection_rate, slice_by: [{c}], min: 0, on_missing: exclude}}\n"
        for c in ("flag", "cat", "nullable")), subject=SUBJECT)
    for fmt in ("dataframe", "csv", "parquet"):
        run = check_format(policy, df, fmt, tmp_path)
        assert {m["slice"]["flag"] for m in rule(run.report, "flag")["measurements"]} == {"true", "false"}
        assert {m["slice"]["cat"] for m in rule(run.report, "cat")["measurements"]} == {"x", "y"}
        assert {m["slice"]["nullable"] for m in rule(run.report, "nullable")["measurements"]} == {"1", "2"}


# ---------------------------------------------------------------- scores and labels


SCORE_POLICY = "  - {id: sel, kind: slice_metric, metric: selection_rate, slice_by: [group], min: 0}\n"


def score_frame(scores) -> pd.DataFrame:
    n = len(scores)
    return pd.DataFrame({"group": (["A", "B"] * n)[:n], "label": ([0, 1] * n)[:n], "score": scores})


@pytest.mark.parametrize("fmt", FAST_FORMATS)
def test_scores_outside_unit_interval_suggest_logits(fmt, tmp_path):
    policy = policy_file(tmp_path, SCORE_POLICY, subject=SUBJECT)
    run = check_format(policy, score_frame([-2.0, 3.5, 0.5, 0.25]), fmt, tmp_path)
    r = rule(run.report, "sel")
    assert run.code == 2 and r["status"] == "error"
    assert "2 scores outside [0, 1] (min -2, max 3.5); if these are logits declare `prediction_type: logits`" in r["message"]
    logits = policy_file(tmp_path, SCORE_POLICY, "logits.yaml", subject=SUBJECT + "  prediction_type: logits\n")
    run = check_format(logits, score_frame([-2.0, 3.5, 0.5, 0.25]), fmt, tmp_path / "l")
    assert run.code == 0
    sel = {m["slice"]["group"]: m["value"] for m in rule(run.report, "sel")["measurements"]}
    assert sel == {"A": 0.5, "B": 1.0}  # sigmoid(-2) < 0.5 < sigmoid(0.5); sigmoid(3.5), sigmoid(0.25) > 0.5


def test_non_numeric_scores_error_without_echoing_data(tmp_path):
    policy = policy_file(tmp_path, SCORE_POLICY, subject=SUBJECT)
    run = api_check(policy, score_frame([0.5, "SECRET-ROW-VALUE", 0.25, 0.75]))
    msg = rule(run.report, "sel")["message"]
    assert "1 non-numeric scores (first at row 2)" in msg and "SECRET" not in json.dumps(run.report)


@pytest.mark.parametrize("labels,expected", [
    ([0, 1, 2, 1], "must hold 0/1; values seen:"),
    ([0, 1, None, 1], "1 of 4 rows have no label"),
    (["0", "1", "", "1"], "1 of 4 rows have no label"),
    ([True, False, True, False], "holds booleans; declare `positive_label: true`"),
    (["1.0", "0.0", "1.0", "0.0"], "values seen: '1.0' (2), '0.0' (2)"),
])
def test_labels_other_than_0_1_need_a_declared_mapping(labels, expected, tmp_path):
    policy = policy_file(tmp_path, SCORE_POLICY, subject=SUBJECT)
    df = score_frame([0.5, 0.25, 0.75, 0.125]).assign(label=labels)
    r = rule(api_check(policy, df).report, "sel")
    assert r["status"] == "error" and expected in r["message"], r["message"]


def test_positive_label_for_booleans(tmp_path):
    policy = policy_file(tmp_path, SCORE_POLICY, subject=SUBJECT + "  positive_label: true\n")
    df = score_frame([0.5, 0.25, 0.75, 0.125]).assign(label=[True, False, True, False])
    assert api_check(policy, df).code == 0


# ---------------------------------------------------------------- safety


@pytest.mark.parametrize("tag", ["!!python/object/apply:os.system ['touch {marker}']", "!!python/name:os.system",
                                 "!!python/object/new:os.system ['touch {marker}']", "!!python/module:os"])
def test_yaml_python_tags_are_refused(tag, tmp_path, capsys):
    marker = tmp_path / "pwned"
    policy = tmp_path / "p.yaml"
    policy.write_text("version: 1\nname: x\nrules:\n  - id: r\n    kind: representation\n    feature: "
                      + tag.format(marker=marker) + "\n    min_share: 0.1\n")
    assert main(["lint", str(policy)]) == 2
    out = capsys.readouterr().out
    assert f"{policy}:6:14: cannot read value" in out and "(rules[0].feature)" in out
    assert not marker.exists()


def test_package_never_uses_eval_exec_or_an_unsafe_yaml_loader():
    offenders = []
    for path in sorted(PACKAGE.rglob("*.py")):
        text = path.read_text(encoding="utf-8")
        for pattern in (r"(?<![\w.])eval\(", r"(?<![\w.])exec\(", r"yaml\.load\(", r"yaml\.(Unsafe|Full)?Loader\b",
                        r"unsafe_load", r"full_load", r"pickle\.loads?\(", r"allow_pickle=True"):
            for m in re.finditer(pattern, text):
                offenders.append(f"{path.relative_to(PACKAGE.parent)}:{text[:m.start()].count(chr(10)) + 1}: {m.group(0)}")
    assert offenders == []


@pytest.mark.parametrize("ref", ["../../etc/passwd", "/etc/passwd", "../outside.yaml", "sub/../../outside.yaml",
                                 "link.yaml", "/", "."])
def test_extends_cannot_leave_the_policy_tree(ref, tmp_path, capsys):
    (tmp_path / "outside.yaml").write_text("version: 1\nname: o\nrules:\n  - {id: o, kind: representation, feature: s, min_share: 0.1}\n")
    inner = tmp_path / "policies"
    (inner / "sub").mkdir(parents=True)
    (inner / "link.yaml").symlink_to(tmp_path / "outside.yaml")  # a symlink pointing out is refused too
    policy = inner / "p.yaml"
    policy.write_text(f"version: 1\nname: t\nextends: ['{ref}']\nrules:\n  - {{id: r, kind: representation, feature: s, min_share: 0.1}}\n")
    assert main(["lint", str(policy)]) == 2
    out = capsys.readouterr().out
    assert f"{policy}:3:11: pack '{ref}' not found inside" in out and "may not leave those directories" in out


def test_report_never_embeds_raw_rows(tmp_path, capsys):
    rng = np.random.default_rng(3)
    df = pd.DataFrame({"group": rng.choice(["A", "B"], 50), "label": rng.integers(0, 2, 50),
                       "score": rng.random(50), "notes": [f"MARKER-7f3a-{i}" for i in range(50)]})
    df.loc[7, "notes"] = "MARKER-7f3a"
    df = pd.concat([df, df.iloc[:3]], ignore_index=True)  # duplicates: reported as counts only
    policy = policy_file(tmp_path, "  - {id: gap, kind: slice_gap, metric: recall, slice_by: [group], max_gap: 1}\n"
                                   "  - {id: m, kind: slice_metric, metric: auc, slice_by: [group], min: 0, min_slice_size: 5}\n",
                         subject=SUBJECT)
    out = {fmt: tmp_path / f"r.{fmt}" for fmt in ("json", "junit", "markdown", "html", "sarif")}
    extra = [a for fmt, p in out.items() if fmt != "json" for a in ("--report", f"{fmt}={p}")]
    run = cli_check(policy, write_data(df, tmp_path, "csv"), *extra, capsys=capsys, report=out["json"])
    assert run.code == 0
    for fmt, path in out.items():
        assert "MARKER-7f3a" not in path.read_text(encoding="utf-8"), fmt
    assert "MARKER-7f3a" not in run.out + run.err


# ---------------------------------------------------------------- determinism and atomic writes


def _mask_time(text: str) -> str:
    text = re.sub(r'"started": "[^"]*"', '"started": "T"', text)
    text = re.sub(r'"duration_seconds": [-0-9.eE+]+', '"duration_seconds": 0', text)
    return re.sub(r'"timings": \{[^{}]*\}', '"timings": {}', text)


def test_same_inputs_give_byte_identical_json_apart_from_time(tmp_path, capsys):
    df = pd.concat([mixed_frame(), mixed_frame(seed=12)], ignore_index=True)
    policy = policy_file(tmp_path, MIXED_POLICY, subject=SUBJECT + "  example_weight: w\n")
    data = write_data(df, tmp_path, "csv")
    report = tmp_path / "r.json"
    texts = []
    for _ in range(2):
        cli_check(policy, data, capsys=capsys, report=report)
        texts.append(report.read_text(encoding="utf-8"))
    assert _mask_time(texts[0]) == _mask_time(texts[1])
    assert texts[0].count('"started"') == 1  # the mask hid exactly the time fields
    doc = json.loads(texts[0])
    assert set(TIME_FIELDS) <= {k for k in _keys(doc)}


def _keys(obj):
    if isinstance(obj, dict):
        for k, v in obj.items():
            yield k
            yield from _keys(v)
    elif isinstance(obj, list):
        for v in obj:
            yield from _keys(v)


def test_write_atomic_failure_leaves_old_file_and_no_temp(tmp_path, monkeypatch):
    from rai_policy import fileio

    target = tmp_path / "report.json"
    target.write_text("old complete report")

    def broken_fsync(fd):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(fileio.os, "fsync", broken_fsync)
    with pytest.raises(OSError):
        fileio.write_atomic(target, "x" * 100_000)
    assert target.read_text() == "old complete report"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["report.json"]


def test_failing_render_leaves_no_partial_report(tmp_path, capsys, monkeypatch):
    from rai_policy.report import renderers

    real = renderers.renderer

    def renderer(fmt):
        if fmt == "junit":
            def broken(report, **kw):
                raise RuntimeError("renderer bug")
            return broken
        return real(fmt)

    monkeypatch.setattr(renderers, "renderer", renderer)
    policy = policy_file(tmp_path, SCORE_POLICY, subject=SUBJECT)
    data = write_data(score_frame([0.5, 0.25, 0.75, 0.125]), tmp_path, "csv")
    junit = tmp_path / "out" / "r.xml"
    code = main(["check", str(policy), "--data", str(data), "-q", "--no-cache", "--report", f"junit={junit}"])
    assert code == 2  # a bug of ours is one line and exit 2, never a traceback
    assert "error: internal error: RuntimeError: renderer bug" in capsys.readouterr().err
    assert not junit.exists()
    assert not any(p.name.endswith(".tmp") for p in tmp_path.rglob("*"))


# ---------------------------------------------------------------- large and odd data, bounded time


def timed(fn):
    t = time.perf_counter()
    out = fn()
    return out, time.perf_counter() - t


def test_ten_thousand_distinct_slice_values_is_a_clear_max_slices_error(tmp_path, capsys):
    df = pd.DataFrame({"uid": [f"u{i}" for i in range(10_000)], "label": np.arange(10_000) % 2,
                       "score": (np.arange(10_000) % 16) / 16})
    policy = policy_file(tmp_path, "  - {id: g, kind: slice_gap, metric: recall, slice_by: [uid], max_gap: 1}\n", subject=SUBJECT)
    run, elapsed = timed(lambda: cli_check(policy, write_data(df, tmp_path, "csv"), capsys=capsys))
    assert elapsed < 20
    r = rule(run.report, "g")
    assert run.code == 2 and "uid has 10,000 slices, more than max_slices=1,000 (raise --max-slices" in r["message"]


def test_single_value_slice_column_gap_not_evaluable(tmp_path, capsys):
    df = pd.DataFrame({"group": ["A"] * 20, "label": [0, 1] * 10, "score": [0.25, 0.75] * 10})
    policy = policy_file(tmp_path, "  - {id: g, kind: slice_gap, metric: recall, slice_by: [group], max_gap: 0.1}\n",
                         subject=SUBJECT)
    run = cli_check(policy, write_data(df, tmp_path, "csv"), capsys=capsys)
    r = rule(run.report, "g")
    assert run.code == 3 and r["status"] == "not_evaluable"
    assert "a gap needs at least 2 groups with a defined recall; found 1 (A)" in r["message"]


def test_one_row_dataset(tmp_path, capsys):
    df = pd.DataFrame({"group": ["A"], "label": [1], "score": [0.75]})
    policy = policy_file(tmp_path, "  - {id: g, kind: slice_gap, metric: recall, slice_by: [group], max_gap: 0.1}\n"
                                   "  - {id: m, kind: slice_metric, metric: recall, slice_by: [group], min: 0.5}\n"
                                   "  - {id: a, kind: slice_metric, metric: auc, slice_by: [group], min: 0.5}\n",
                         subject=SUBJECT)
    run, elapsed = timed(lambda: cli_check(policy, write_data(df, tmp_path, "csv"), capsys=capsys))
    assert elapsed < 10
    statuses = {r["id"]: r["status"] for r in run.report["rules"]}
    assert statuses == {"g": "not_evaluable", "m": "pass", "a": "not_evaluable"}
    assert "only one label class present" in rule(run.report, "a")["message"]


def test_empty_data_file_is_a_clear_error(tmp_path, capsys):
    policy = policy_file(tmp_path, SCORE_POLICY, subject=SUBJECT)
    (tmp_path / "empty.csv").write_text("group,label,score\n")
    run = cli_check(policy, tmp_path / "empty.csv", capsys=capsys)
    assert run.code == 2 and "the data has no rows" in rule(run.report, "sel")["message"]


def test_hundred_column_dataset(tmp_path, capsys):
    rng = np.random.default_rng(100)
    df = pd.DataFrame({f"f{i:03d}": rng.random(2000) for i in range(97)})
    df["group"] = rng.choice(["A", "B", "C"], 2000)
    df["label"] = rng.integers(0, 2, 2000)
    df["score"] = rng.random(2000)
    policy = policy_file(tmp_path, "  - {id: g, kind: slice_gap, metric: auc, slice_by: [group], max_gap: 0.5}\n", subject=SUBJECT)
    run, elapsed = timed(lambda: cli_check(policy, write_data(df, tmp_path, "csv"), capsys=capsys))
    assert elapsed < 20 and run.code == 0
    bad = cli_check(policy, tmp_path / "data.csv", "--label", "lable", capsys=capsys)
    msg = rule(bad.report, "g")["message"]
    assert "label column 'lable' not in the data; did you mean 'label'? (100 columns: f000, f001" in msg and "…" in msg


def test_slice_values_reconcile_with_missing(tmp_path, capsys):
    df = pd.DataFrame({"group": ["A", "B", None, "A", "", "B"] * 10, "label": [1, 0] * 30, "score": [0.75, 0.25] * 30})
    policy = policy_file(tmp_path, "  - {id: g, kind: slice_gap, metric: selection_rate, slice_by: [group], max_gap: 1,\n"
                                   "     on_missing: exclude}\n", subject=SUBJECT)
    run = cli_check(policy, write_data(df, tmp_path, "csv"), capsys=capsys)
    r = rule(run.report, "g")
    counts = {k: m["count"] for k, m in by_slice(r, "group").items()}
    assert counts == {"A": 20, "B": 20}
    assert "rows: 40 in groups + 20 with no group value = 60" in r["notes"]
    assert "20 of 60 rows have no value for group and were excluded" in r["notes"]
    assert "20 row(s) with no group value excluded" in r["message"]


def test_policy_numbers_must_be_finite(tmp_path, capsys):
    policy = policy_file(tmp_path, "  - {id: g, kind: slice_metric, metric: recall, slice_by: [group], min: .nan}\n"
                                   "  - {id: e, kind: dp_budget, max_epsilon: .inf, delta: 1.0e-5}\n")
    assert main(["lint", str(policy)]) == 2
    out = capsys.readouterr().out
    assert f"{policy}:4:73: Input should be a finite number (rules[0].min)" in out
    assert f"{policy}:5:43: Input should be a finite number (rules[1].max_epsilon)" in out


def test_hostile_policy_documents_are_located(tmp_path, capsys):
    cases = {
        "bomb.yaml": ("a: &a [x, x, x, x, x, x, x, x, x, x]\nb: &b [*a, *a, *a, *a, *a, *a, *a, *a, *a, *a]\n"
                      "c: &c [*b, *b, *b, *b, *b, *b, *b, *b, *b, *b]\nd: &d [*c, *c, *c, *c, *c, *c, *c, *c, *c, *c]\n"
                      "e: [*d, *d, *d, *d, *d, *d, *d, *d, *d, *d]\n", "expands to more than 20,000 nodes"),
        "deep.yaml": ("x: " + "[" * 5000 + "]" * 5000 + "\n", "1:"),
        "dup.yaml": ("version: 1\nversion: 1\nname: t\nrules: []\n", ":2:1: duplicate key 'version' (first defined at line 1)"),
        "huge.yaml": ("version: 1\nname: t\nrules:\n  - {id: r, kind: slice_metric, metric: recall, slice_by: [g], min: "
                      + "9" * 5000 + "}\n", ":4:"),
        "bytes.yaml": (b"version: 1\nname: \xff\xfe\n", ":2:7: not valid UTF-8 (byte 0xff)"),
        "empty.yaml": ("", ":1:1: the policy file is empty"),
        "ctrl.yaml": ("version: 1\nname: a\x07b\n", ":2:8: invalid YAML: character U+0007 is not allowed"),
        "two.yaml": ("a: 1\n---\nb: 2\n", ":2:1: invalid YAML: expected a single document"),
    }
    for name, (content, expected) in cases.items():
        path = tmp_path / name
        (path.write_bytes if isinstance(content, bytes) else path.write_text)(content)
        t = time.perf_counter()
        code = main(["lint", str(path)])
        assert time.perf_counter() - t < 2, name
        out = capsys.readouterr().out
        assert code == 2 and f"error: {path}" in out and expected in out, (name, out)
    assert "nesting is deeper than 40 levels" in (main(["lint", str(tmp_path / "deep.yaml")]) and capsys.readouterr().out)
