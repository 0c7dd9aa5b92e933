"""The junit, sarif, markdown and html renderers on the real COMPAS report and on hand-built edge cases."""
from __future__ import annotations

import argparse
import json
import re
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from rai_policy.report.renderers import formats, renderer
from tests.conftest import REPO
from tests.report_samples import IMG, SCRIPT, UNICODE, errors_report, synthetic_report

SARIF_SCHEMA = Path(__file__).resolve().parent / "schemas" / "sarif-schema-2.1.0.json"
ALL = ("console", "json", "junit", "sarif", "markdown", "html")


@pytest.fixture(scope="module")
def synthetic():
    return synthetic_report()


@pytest.fixture(scope="module")
def errors_only():
    return errors_report()


@pytest.fixture
def at_repo(monkeypatch):
    """Paths in reports are shown relative to the working directory: run from the checkout."""
    monkeypatch.chdir(REPO)


def test_every_format_is_registered():
    assert set(ALL) <= set(formats())
    for fmt in ALL:
        assert callable(renderer(fmt))


# ---------------------------------------------------------------- junit

def _junit(text: str):
    from junitparser import JUnitXml

    xml = JUnitXml.fromstring(text.encode("utf-8"))  # as a CI tool reads the file: bytes
    suites = list(xml) if xml._tag == "testsuites" else [xml]
    assert len(suites) == 1
    return suites[0]


def _results(case) -> list:
    return list(case.result)


def test_junit_compas_parses_with_one_failing_case_per_rule(compas_report, at_repo):
    from junitparser import Failure

    suite = _junit(renderer("junit")(compas_report))
    assert suite.name == "compas-fairness"
    cases = {c.name: c for c in suite}
    assert list(cases) == ["fpr-gap-race", "fnr-gap-race", "sex-representation"]
    assert (suite.tests, suite.failures, suite.errors, suite.skipped) == (3, 3, 0, 0)
    for case in cases.values():
        assert case.classname == "compas-fairness"
        [res] = _results(case)
        assert isinstance(res, Failure)
    fpr = _results(cases["fpr-gap-race"])[0]
    assert fpr.type == "slice_gap"
    assert fpr.message.startswith("false_positive_rate: gap 0.213925 > max_gap 0.05")
    assert "race=African-American: false_positive_rate 0.448468 (n=3,696; worst)" in fpr.text
    assert "race=Caucasian: false_positive_rate 0.234543 (n=2,454)" in fpr.text
    assert _results(cases["sex-representation"])[0].type == "representation"
    props = {p.name: p.value for p in suite.properties()}
    policy_sha = next(i["sha256"] for i in compas_report.provenance["inputs"] if i["role"] == "policy")
    assert any(k.startswith("sha256:policy:") and v == policy_sha for k, v in props.items())
    assert props["verdict"] == "fail" and props["version:rai-policy"]


def test_junit_statuses_map_to_failure_error_skipped(synthetic):
    from junitparser import Error, Failure, Skipped

    suite = _junit(renderer("junit")(synthetic))
    assert suite.name == f"synthetic {SCRIPT}"  # escaped in the XML, intact after parsing
    cases = {c.name: c for c in suite}
    kinds = {name: [type(r) for r in _results(c)] for name, c in cases.items()}
    assert kinds["recall-floor"] == [Failure]
    assert kinds["missing-metric"] == [Error]  # B07: a missing metric is an error, never a skip
    assert kinds["auc-floor"] == [Skipped]
    assert kinds["fpr-gap"] == [Skipped]
    assert kinds["old-rule"] == [Skipped]  # disabled
    assert kinds["selection-ratio"] == [] and kinds["dp-epsilon"] == []  # warn and pass pass
    waived = _results(cases["fpr-gap"])[0].message
    assert "Known gap | tracked in RAI-123" in waived and "Jane Roe <jr@x.org>" in waived and "2099-01-31" in waived
    assert _results(cases["auc-floor"])[0].message.startswith("not evaluable: ")
    assert "warning only" in cases["selection-ratio"].system_out
    assert SCRIPT in _results(cases["recall-floor"])[0].message
    assert f"group={SCRIPT}: recall 0.42 (n=40; worst)" in _results(cases["recall-floor"])[0].text
    assert (suite.tests, suite.failures, suite.errors, suite.skipped) == (9, 2, 1, 3)


def test_junit_report_errors_become_an_error_case(errors_only):
    from junitparser import Error

    suite = _junit(renderer("junit")(errors_only))
    [case] = list(suite)
    [err] = _results(case)
    assert isinstance(err, Error) and "unknown rule kind 'slice_gapp'" in err.message
    assert suite.errors == 1 and suite.tests == 1


def test_junit_drops_characters_xml_cannot_hold(synthetic):
    from dataclasses import replace

    bad = replace(synthetic, rules=(replace(synthetic.rules[0], message="bell\x07 nul\x00 ok"),))
    text = renderer("junit")(bad)
    ET.fromstring(text.encode())  # well-formed
    assert "bell\ufffd nul\ufffd ok" in _results(next(iter(_junit(text))))[0].message


# ---------------------------------------------------------------- sarif

@pytest.fixture(scope="module")
def sarif_validator():
    import jsonschema

    schema = json.loads(SARIF_SCHEMA.read_text())
    return jsonschema.Draft4Validator(schema, format_checker=jsonschema.FormatChecker())


def _sarif(report, validator) -> dict:
    doc = json.loads(renderer("sarif")(report))
    errors = sorted(validator.iter_errors(doc), key=lambda e: list(e.path))
    assert not errors, "\n".join(f"{list(e.path)}: {e.message}" for e in errors[:10])
    return doc


def test_sarif_compas_is_valid_and_located(compas_report, sarif_validator, at_repo):
    from rai_policy.rules.registry import rule_kinds

    doc = _sarif(compas_report, sarif_validator)
    assert doc["version"] == "2.1.0"
    [run] = doc["runs"]
    driver = run["tool"]["driver"]
    assert driver["name"] == "rai-policy" and driver["version"]
    assert [r["id"] for r in driver["rules"]] == ["fpr-gap-race", "fnr-gap-race", "sex-representation"]
    gap = driver["rules"][0]
    assert gap["name"] == "slice_gap"
    assert gap["fullDescription"]["text"] == rule_kinds()["slice_gap"].__doc__.strip().splitlines()[0]
    assert gap["shortDescription"]["text"].startswith("False positive rates")
    results = run["results"]
    assert [r["ruleId"] for r in results] == ["fpr-gap-race", "fnr-gap-race", "sex-representation"]
    first = results[0]
    assert first["level"] == "error" and first["ruleIndex"] == 0
    loc = first["locations"][0]["physicalLocation"]
    assert loc["artifactLocation"] == {"uri": "policies/compas_fairness.yaml", "uriBaseId": "%SRCROOT%"}
    assert loc["region"] == {"startLine": 11, "startColumn": 5}
    assert "gap 0.213925 > max_gap 0.05" in first["message"]["text"]
    prints = [r["partialFingerprints"]["raiPolicyRule/v1"] for r in results]
    assert len(set(prints)) == 3 and all(re.fullmatch(r"[0-9a-f]{64}", p) for p in prints)
    inputs = {a["properties"]["role"]: a for a in run["artifacts"]}
    assert inputs["policy"]["hashes"]["sha-256"] == compas_report.provenance["inputs"][0]["sha256"]


def test_sarif_levels_suppressions_and_notes(synthetic, sarif_validator):
    doc = _sarif(synthetic, sarif_validator)
    [run] = doc["runs"]
    results = {r["ruleId"]: r for r in run["results"]}
    assert set(results) == {"recall-floor", "selection-ratio", "fpr-gap", "auc-floor", "missing-metric",
                            "model-card-complete"}  # pass rules are not results
    assert results["recall-floor"]["level"] == "error"
    assert results["selection-ratio"]["level"] == "warning"
    assert results["model-card-complete"]["level"] == "note"  # severity info
    assert results["missing-metric"]["level"] == "error"
    assert results["auc-floor"]["level"] == "note"
    [sup] = results["fpr-gap"]["suppressions"]
    assert sup["kind"] == "inSource" and sup["status"] == "accepted"
    assert "Known gap | tracked in RAI-123" in sup["justification"] and "Jane Roe" in sup["justification"]
    assert "2099-01-31" in sup["justification"]
    assert "suppressions" not in results["recall-floor"]
    assert SCRIPT in results["recall-floor"]["message"]["text"]  # JSON string: data, not markup
    rule_ids = [r["id"] for r in run["tool"]["driver"]["rules"]]
    assert all(rule_ids[r["ruleIndex"]] == r["ruleId"] for r in run["results"])


def test_sarif_fingerprints_ignore_values_and_lines(synthetic, sarif_validator):
    from dataclasses import replace

    moved = replace(synthetic, rules=tuple(replace(r, value=0.99, message="changed",
                                                   location={**r.location, "line": r.location["line"] + 7})
                                           for r in synthetic.rules))
    fp = lambda rep: {r["ruleId"]: r["partialFingerprints"] for r in _sarif(rep, sarif_validator)["runs"][0]["results"]}
    assert fp(synthetic) == fp(moved)


def test_sarif_error_report_is_valid(errors_only, sarif_validator):
    doc = _sarif(errors_only, sarif_validator)
    [run] = doc["runs"]
    assert run["results"] == []
    [inv] = run["invocations"]
    assert inv["executionSuccessful"] is False and inv["exitCode"] == 2
    assert "slice_gapp" in inv["toolExecutionNotifications"][0]["message"]["text"]


# ---------------------------------------------------------------- markdown

def _table(text: str, header_start: str) -> list[list[str]]:
    lines = text.splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith(header_start))
    rows = []
    for line in lines[start:]:
        if not line.startswith("|"):
            break
        rows.append([c.strip() for c in re.split(r"(?<!\\)\|", line)[1:-1]])
    return rows


def test_markdown_compas_table(compas_report, at_repo):
    text = renderer("markdown")(compas_report)
    assert text.startswith("## rai-policy: FAIL · compas-fairness\n")
    assert "**Verdict: FAIL** (exit 1) · 3 rules: 3 fail · 7,214 rows" in text
    rows = _table(text, "| Status |")
    assert rows[0] == ["Status", "Rule", "Slice", "Value", "Bound", "Message", "Policy"]
    body = rows[2:]
    assert [r[1] for r in body] == ["`fpr-gap-race`", "`fnr-gap-race`", "`sex-representation`"]
    assert all(len(r) == 7 for r in body)
    assert body[0][2] == "race=African-American" and body[0][3] == "0.213925" and body[0][4] == "gap ≤ 0.05"
    assert body[0][6] == r"policies/compas\_fairness.yaml:11"
    assert "### Waivers" not in text
    assert len(text) < 5000  # PR-comment sized


def test_markdown_escapes_cells_and_lists_waivers(synthetic):
    text = renderer("markdown")(synthetic)
    assert "<script>" not in text and "&lt;script&gt;alert(1)&lt;/script&gt;" in text
    assert "<img" not in text
    rows = _table(text, "| Status |")[2:]
    assert all(len(r) == 7 for r in rows)  # the `|` in a message did not split its cell
    assert [r[0] for r in rows] == ["ERROR", "FAIL", "FAIL", "NOT EVALUABLE", "WARN"]
    recall = next(r for r in rows if r[1] == "`recall-floor`")
    assert recall[5].endswith(r"=0.42 \| pipe")
    waivers = _table(text, "| Rule | Slice | Reason |")
    assert waivers[2] == ["`fpr-gap`", "group=b", r"Known gap \| tracked in RAI-123", "Jane Roe &lt;jr@x.org&gt;",
                          "2099-01-31", "policy"]
    assert "Full reports: sarif `out/r.sarif`, html `out/r.html`" in text
    assert "**Disabled:** `old-rule`" in text


def test_markdown_error_report(errors_only):
    text = renderer("markdown")(errors_only)
    assert "**Verdict: ERROR** (exit 2)" in text
    assert r"rules\[0\].kind: unknown rule kind 'slice\_gapp'" in text


# ---------------------------------------------------------------- html

EXTERNAL = re.compile(r"""(?:src|href)\s*=\s*["']?(?:https?:|//)|@import|url\(|<script|<link|<iframe""", re.IGNORECASE)


def _svgs(text: str) -> list[ET.Element]:
    return [ET.fromstring(s) for s in re.findall(r"<svg\b.*?</svg>", text, re.DOTALL)]


def test_html_compas_is_self_contained_with_charts(compas_report, at_repo):
    text = renderer("html")(compas_report)
    assert text.startswith("<!DOCTYPE html>")
    assert not EXTERNAL.search(text)
    assert "script-src" not in text and "default-src 'none'" in text
    svgs = _svgs(text)  # each chart is well-formed XML
    assert len(svgs) == 3
    assert "false positive rate (decision threshold 0.45)" in text
    assert "allowed: up to 0.05 above Caucasian (0.234543)" in text  # the gap band, from the compared pair
    assert "Compared: African-American 0.448468 vs Caucasian 0.234543; gap 0.213925." in text
    assert "min share 0.3" in text
    for sha in (i["sha256"] for i in compas_report.provenance["inputs"]):
        assert sha in text
    assert "policies/compas_fairness.yaml:11" in text
    assert ">FAIL<" in text and "At least one blocking rule failed." in text


def test_html_autoescapes_hostile_values(synthetic):
    text = renderer("html")(synthetic)
    assert "<script" not in text.lower()
    assert "<img" not in text
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in text
    assert "&lt;img src=x onerror=" in text
    assert not EXTERNAL.search(text)
    for svg in _svgs(text):
        assert not [e for e in svg.iter() if e.tag.rsplit("}", 1)[-1] in ("script", "foreignObject")]
    assert "Zoë" in text


def test_html_sections_for_every_kind(synthetic):
    text = renderer("html")(synthetic)
    assert "ε = 2.5971" in text and "(2.5971, 1e-05)-differential privacy" in text
    assert "within the budget ε ≤ 3" in text
    for assumption in ("accountant", "sampling", "steps", "steps source", "noise multiplier"):
        assert f"<td>{assumption}</td>" in text
    assert "ceil(epochs · examples / batch_size)" in text
    assert "Credit model &lt;script&gt;" in text and "Risk team, ML platform" in text  # evidence.model_card
    assert "considerations.limitations" in text
    assert "Waivers" in text and "Jane Roe &lt;jr@x.org&gt;" in text and "2099-01-31" in text
    assert "Disabled rules" in text and "old-rule" in text
    assert "min_ratio 0.8 × male" in text  # ratio bound drawn relative to the highest group
    assert "black tick: the group&#39;s own bound" in text.lower() or "black tick: the group's own bound" in text.lower()
    assert "only one label class present" in text
    assert "The policy or its evidence is broken" in text


def test_html_error_report(errors_only):
    text = renderer("html")(errors_only)
    assert "unknown rule kind &#39;slice_gapp&#39;" in text
    assert "<svg" not in text


# ---------------------------------------------------------------- all formats

@pytest.mark.parametrize("fmt", ALL)
def test_rendering_is_deterministic(fmt, compas_report, synthetic, errors_only, at_repo):
    for report in (compas_report, synthetic, errors_only):
        assert renderer(fmt)(report) == renderer(fmt)(report)


@pytest.mark.parametrize("fmt", ALL)
def test_renderers_keep_unicode_messages(fmt, synthetic):
    from dataclasses import replace

    report = replace(synthetic, rules=(replace(synthetic.rules[0], message=f"recall low for {UNICODE} → ε δ ≥"),
                                       *synthetic.rules[1:]))
    text = renderer(fmt)(report)
    assert isinstance(text, str) and text.endswith("\n")
    assert "Zoë" in text and "Ünïcødé" in text and "→ ε δ ≥" in text


def test_cli_writes_every_report_and_the_step_summary(compas_report, tmp_path, monkeypatch, at_repo):
    from rai_policy import cli

    summary = tmp_path / "summary.md"
    summary.write_text("earlier step\n")
    monkeypatch.setenv("GITHUB_STEP_SUMMARY", str(summary))
    targets = [(fmt, str(tmp_path / f"report.{fmt}")) for fmt in ("json", "junit", "sarif", "markdown", "html")]
    args = argparse.Namespace(report=targets, no_color=True, write_baseline=None)
    assert cli._emit(compas_report, args) == 1
    for fmt, path in targets:
        assert Path(path).read_text() == renderer(fmt)(compas_report)
    assert summary.read_text() == "earlier step\n" + renderer("markdown")(compas_report)


def test_hostile_slice_strings_are_in_the_sample():
    # guards the edge-case sample itself: the tests above rely on these values being present
    rep = synthetic_report()
    slices = [m["slice"] for r in rep.rules for m in r.measurements]
    assert {"group": SCRIPT} in slices and {"group": IMG} in slices and {"group": UNICODE} in slices
