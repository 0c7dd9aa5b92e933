"""Outputs and subject precedence through the CLI: user mistakes are one clear line, exit 2,
checked before any work; nothing a check reads is ever overwritten."""
from __future__ import annotations

import json
import os
import shutil
import subprocess
import zipfile
from pathlib import Path

import pytest

from rai_policy.cli import main
from tests.conftest import POLICIES, REPO

POLICY = POLICIES / "compas_fairness.yaml"


def run(capsys, *args: str) -> tuple[int, str]:
    code = main(list(args))
    out = capsys.readouterr()
    return code, out.out + out.err


def test_report_path_that_is_an_input_is_refused(tmp_path, compas_scored_csv, capsys):
    policy = tmp_path / "p.yaml"
    shutil.copy(POLICY, policy)
    before = policy.read_text()
    code, out = run(capsys, "check", str(policy), "--data", str(compas_scored_csv), "-q", "--report", f"json={policy}")
    assert code == 2 and "is also an input of this check; refusing to overwrite it" in out
    assert policy.read_text() == before


def test_same_path_for_two_reports_is_refused(tmp_path, compas_scored_csv, capsys):
    out_path = tmp_path / "r.out"
    code, out = run(capsys, "check", str(POLICY), "--data", str(compas_scored_csv), "-q",
                    "--report", f"json={out_path}", "--report", f"html={out_path}")
    assert code == 2 and "html report" in out and "is also the json report" in out
    assert not out_path.exists()


@pytest.mark.parametrize("target,expected", [("DIR", "is a directory"), ("/proc/nope/x.json", "cannot")])
def test_unwritable_report_path_is_a_clear_error(target, expected, tmp_path, compas_scored_csv, capsys):
    target = str(tmp_path) if target == "DIR" else target
    code, out = run(capsys, "check", str(POLICY), "--data", str(compas_scored_csv), "-q", "--engine", "local",
                    "--report", f"json={target}")
    assert code == 2 and expected in out
    assert "internal error" not in out and "Traceback" not in out


def test_reports_get_the_usual_file_mode(tmp_path, compas_scored_csv, capsys):
    out_path = tmp_path / "r.json"
    run(capsys, "check", str(POLICY), "--data", str(compas_scored_csv), "-q", "--engine", "local",
        "--report", f"json={out_path}")
    mask = os.umask(0)
    os.umask(mask)
    assert out_path.stat().st_mode & 0o777 == 0o666 & ~mask


def test_nonpositive_timeout_is_a_usage_error(compas_scored_csv, capsys):
    with pytest.raises(SystemExit) as exc:
        main(["check", str(POLICY), "--data", str(compas_scored_csv), "--timeout", "-5"])
    assert exc.value.code == 2
    assert "--timeout: must be greater than 0" in capsys.readouterr().err


def test_model_and_prediction_together_are_refused(compas_scored_csv, capsys):
    code, out = run(capsys, "check", str(POLICY), "--data", str(compas_scored_csv), "--model", "m.keras",
                    "--prediction", "score", "-q")
    assert code == 2 and "give either --prediction COLUMN" in out


def test_model_flag_replaces_the_policys_prediction_column(tmp_path, compas_scored_csv, capsys):
    """The policy says `prediction: score`; --model on the command line must be what is evaluated."""
    out_path = tmp_path / "r.json"
    code, out = run(capsys, "check", str(POLICY), "--data", str(compas_scored_csv), "--model",
                    str(tmp_path / "missing.keras"), "-q", "--engine", "local", "--report", f"json={out_path}")
    report = json.loads(out_path.read_text())
    assert code == 2
    assert report["subject"]["prediction"] is None and report["subject"]["model"].endswith("missing.keras")
    slice_rules = [r for r in report["rules"] if r["kind"] == "slice_gap"]
    assert slice_rules and all(r["status"] == "error" and "missing.keras" in r["message"] for r in slice_rules)


def test_beam_args_with_one_option_are_accepted(tmp_path, compas_scored_csv, capsys):
    code, out = run(capsys, "check", str(POLICY), "--data", str(compas_scored_csv), "-q", "--engine", "local",
                    "--beam-pipeline-args", "--direct_num_workers=2")
    assert code == 1  # evaluated (locally): the option was parsed, not rejected by argparse
    assert "--beam-pipeline-args is ignored with --engine local" in out


@pytest.mark.slow
def test_wheel_carries_templates_and_packs(tmp_path):
    uv = shutil.which("uv")
    if uv is None:
        pytest.skip("uv not on PATH")
    subprocess.run([uv, "build", "--wheel", "-q", "-o", str(tmp_path)], cwd=REPO, check=True, timeout=300)
    wheel = next(tmp_path.glob("rai_policy-*.whl"))
    names = set(zipfile.ZipFile(wheel).namelist())
    for needed in ("rai_policy/_resources/reports_templates/report.html.j2",
                   "rai_policy/_resources/reports_templates/summary.md.j2",
                   "rai_policy/_resources/policies/packs/four_fifths.yaml",
                   "rai_policy/_resources/policies/packs/dp_sgd_release.yaml"):
        assert needed in names


def test_positive_label_mapping_is_reported(tmp_path, capsys):
    """B08's neighbour: with positive_label every other value counts as 0 — the report says which."""
    data = tmp_path / "d.csv"
    data.write_text("y,score,g\n" + "".join(f"{y},{s},{g}\n" for y, s, g in [
        ("yes", 0.9, "A"), ("no", 0.2, "A"), ("maybe", 0.7, "B"), ("yes", 0.8, "B"), (" Yes", 0.4, "B")]))
    policy = tmp_path / "p.yaml"
    policy.write_text("version: 1\nname: t\nsubject: {label: y, prediction: score, positive_label: 'yes'}\nrules:\n"
                      "  - {id: sel, kind: slice_metric, metric: selection_rate, slice_by: [g], min: 0}\n")
    code, out = run(capsys, "check", str(policy), "--data", str(data), "-q", "--engine", "local", "--no-cache")
    assert code == 0
    assert "note: labels: 'yes' → 1 (2 rows); 'no' (1), 'maybe' (1), 'Yes' (1) → 0" in out


def test_verbose_shows_notes_of_passing_rules(tmp_path, compas_scored_csv, capsys):
    policy = tmp_path / "p.yaml"
    policy.write_text("version: 1\nname: t\nsubject: {label: two_year_recid, prediction: score}\nrules:\n"
                      "  - {id: sel, kind: slice_metric, metric: selection_rate, slice_by: [sex], min: 0}\n")
    _, quiet = run(capsys, "check", str(policy), "--data", str(compas_scored_csv), "-q", "--engine", "local")
    _, verbose = run(capsys, "check", str(policy), "--data", str(compas_scored_csv), "-q", "--engine", "local", "-v")
    assert "slice(s) evaluated" not in quiet and "slice(s) evaluated" in verbose


def test_model_card_summary_never_shows_none(tmp_path, capsys):
    """B20 (HTML side): a card named "None" fails the rule and its summary omits the name."""
    card = tmp_path / "card.json"
    card.write_text(json.dumps({"model_details": {"name": "None", "overview": "  "}}))
    policy = tmp_path / "p.yaml"
    policy.write_text("version: 1\nname: t\nrules:\n  - {id: card, kind: model_card, required: [model_details.name]}\n")
    out = tmp_path / "r.json"
    html = tmp_path / "r.html"
    code, _ = run(capsys, "check", str(policy), "--model-card", str(card), "-q", "--report", f"json={out}",
                  "--report", f"html={html}")
    report = json.loads(out.read_text())
    assert code == 1 and report["rules"][0]["status"] == "fail"
    summary = report["evidence"]["model_card"]
    assert "name" not in summary and "overview" not in summary
    assert summary["schema_version"] == "0.0.2 (assumed: the card declares none)"
    assert "<dd>None</dd>" not in html.read_text()


def test_equal_groups_are_named_as_two_groups(tmp_path, capsys):
    data = tmp_path / "d.csv"
    data.write_text("y,score,g\n1,0.9,A\n1,0.1,A\n1,0.9,B\n1,0.1,B\n")
    policy = tmp_path / "p.yaml"
    policy.write_text("version: 1\nname: t\nsubject: {label: y, prediction: score}\nrules:\n"
                      "  - {id: gap, kind: slice_gap, metric: recall, slice_by: [g], max_gap: 0.1}\n")
    code, out = run(capsys, "check", str(policy), "--data", str(data), "-q", "--engine", "local", "--no-cache")
    assert code == 0 and "(B 0.5 vs A 0.5)" in out
