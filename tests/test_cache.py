"""The evidence cache: a warm re-run recomputes nothing and imports no TensorFlow; bounds are not
in the key; a new slice computes only itself; corrupt entries are ignored."""
from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import POLICIES

REPO = Path(__file__).resolve().parents[1]

WARM = """
import json, sys
from rai_policy.cli import main
code = main(sys.argv[1:])
heavy = sorted(m for m in sys.modules if m.split('.')[0] in
               ('tensorflow', 'tensorflow_model_analysis', 'tensorflow_data_validation', 'tensorflow_privacy', 'apache_beam'))
print(json.dumps({"code": code, "heavy": heavy}))
"""


def run_isolated(args: list[str], cache: Path) -> dict:
    env = {"RAI_POLICY_CACHE_DIR": str(cache), "PATH": "/usr/bin:/bin"}
    out = subprocess.run([sys.executable, "-c", WARM, *args], capture_output=True, text=True, env=env, cwd=REPO,
                         timeout=600)
    return json.loads(out.stdout.strip().splitlines()[-1])


@pytest.mark.slow
def test_warm_rerun_imports_no_tensorflow(compas_scored_csv, tmp_path):
    cache = tmp_path / "cache"
    report = tmp_path / "r.json"
    args = ["check", str(POLICIES / "compas_fairness.yaml"), "--data", str(compas_scored_csv), "-q",
            "--report", f"json={report}"]
    cold = run_isolated(args, cache)
    assert cold["code"] == 1 and "tensorflow_data_validation" in cold["heavy"]  # TFDV ran for representation
    cold_report = json.loads(report.read_text())
    warm = run_isolated(args, cache)
    assert warm["code"] == 1
    assert warm["heavy"] == []  # B2: served entirely from cache, TensorFlow not imported
    warm_report = json.loads(report.read_text())
    assert warm_report["evidence"]["cache"]["hits"] == 2 and warm_report["evidence"]["cache"]["misses"] == 0
    assert [r["value"] for r in warm_report["rules"]] == [r["value"] for r in cold_report["rules"]]


def _check(policy_text: str, data: Path, cache: Path, tmp_path: Path) -> dict:
    from rai_policy.cli import main

    policy = tmp_path / "p.yaml"
    policy.write_text(policy_text)
    out = tmp_path / "r.json"
    main(["check", str(policy), "--data", str(data), "--label", "two_year_recid", "--prediction", "score",
          "--engine", "local", "-q", "--cache-dir", str(cache), "--report", f"json={out}"])
    return json.loads(out.read_text())


GAP = ("version: 1\nname: c\nrules:\n  - id: g\n    kind: slice_gap\n    metric: false_positive_rate\n"
       "    slice_by: [{feat}]\n    max_gap: {bound}\n    decision_threshold: 0.45\n")


def test_bound_change_recomputes_nothing_and_new_slice_only_itself(compas_scored_csv, tmp_path):
    cache = tmp_path / "cache"
    first = _check(GAP.format(feat="race", bound=0.05), compas_scored_csv, cache, tmp_path)
    assert first["evidence"]["cache"] == {"dir": str(cache), "hits": 0, "misses": 1}
    second = _check(GAP.format(feat="race", bound=0.5), compas_scored_csv, cache, tmp_path)
    assert second["evidence"]["cache"]["hits"] == 1 and second["evidence"]["cache"]["misses"] == 0
    assert second["rules"][0]["status"] == "pass" and first["rules"][0]["status"] == "fail"
    two = GAP.format(feat="race", bound=0.05) + GAP.format(feat="sex", bound=0.05).split("rules:\n")[1].replace("id: g", "id: h")
    third = _check(two, compas_scored_csv, cache, tmp_path)
    assert third["evidence"]["cache"]["hits"] == 1 and third["evidence"]["cache"]["misses"] >= 1


def test_corrupt_entry_is_ignored(compas_scored_csv, tmp_path):
    cache = tmp_path / "cache"
    first = _check(GAP.format(feat="race", bound=0.05), compas_scored_csv, cache, tmp_path)
    for entry in cache.rglob("*.json"):
        entry.write_text(entry.read_text()[:50])  # a partial write
    again = _check(GAP.format(feat="race", bound=0.05), compas_scored_csv, cache, tmp_path)
    assert again["evidence"]["cache"]["hits"] == 0
    assert again["rules"][0]["value"] == first["rules"][0]["value"]


def test_changed_data_is_a_miss(compas_scored_csv, tmp_path):
    cache = tmp_path / "cache"
    _check(GAP.format(feat="race", bound=0.05), compas_scored_csv, cache, tmp_path)
    changed = tmp_path / "changed.csv"
    text = compas_scored_csv.read_text().splitlines()
    changed.write_text("\n".join(text[:-1]) + "\n")  # one row fewer
    again = _check(GAP.format(feat="race", bound=0.05), changed, cache, tmp_path)
    assert again["evidence"]["cache"]["hits"] == 0
