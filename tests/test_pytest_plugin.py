"""The rai_policy pytest plugin, run with pytester: collection, outcomes, shared evidence, helpers."""
from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

# Imported here once so in-process pytester runs reuse them (pytester drops modules a run imports).
import pandas  # noqa: F401
import rai_policy.engine  # noqa: F401
import rai_policy.evidence.local_metrics  # noqa: F401
import rai_policy.testing  # noqa: F401

try:  # the hypothesis plugin imports hypothesis at the end of each inner run: keep it loaded
    import hypothesis  # noqa: F401
except ImportError:  # pragma: no cover
    pass

pytest_plugins = ["pytester"]

EXAMPLES = Path(__file__).resolve().parent / "examples"
COMPAS = Path(__file__).resolve().parents[2] / "shared" / "data" / "compas" / "compas-scores-two-years.csv"

POLICY = """\
version: 1
name: demo
subject:
  data: data.csv
  label: label
  prediction: score
waivers:
  - rule: waived-gap
    reason: known issue, retraining scheduled
    approved_by: ethics-board
    expires: 2999-01-01
rules:
  - id: fpr-gap
    kind: slice_gap
    metric: false_positive_rate
    slice_by: [group]
    max_gap: 0.1
  - id: recall-floor
    kind: slice_metric
    metric: recall
    slice_by: [group]
    min: 0.9
  - id: fpr-ceiling
    kind: slice_metric
    severity: warning
    metric: false_positive_rate
    slice_by: [group]
    max: 0.2
  - id: waived-gap
    kind: slice_gap
    metric: selection_rate
    slice_by: [group]
    max_gap: 0.01
  - id: absent-group
    kind: slice_metric
    metric: recall
    slice_by: [group]
    groups: [Z]
    min: 0.5
"""
RULE_IDS = ["fpr-gap", "recall-floor", "fpr-ceiling", "waived-gap", "absent-group"]

BAD_POLICY = """\
version: 1
name: bad
rules:
  - id: a
    kind: slice_gapp
    metric: recall
  - id: b
    kind: slice_metric
    metric: recal
    slice_by: [group]
    min: 0.5
"""

COUNTING_CONFTEST = """\
import json
from pathlib import Path

import rai_policy.engine as engine

calls = []


def pytest_configure(config):
    original = engine.gather

    def counting(requests, subject, options):
        evidence, info = original(requests, subject, options)
        calls.append(sorted(info.tools))
        return evidence, info

    config._rai_original_gather = original
    engine.gather = counting


def pytest_unconfigure(config):
    engine.gather = config._rai_original_gather
    Path("gather_calls.json").write_text(json.dumps(calls))
"""


def rows(fp_a: int = 5, fp_b: int = 20) -> str:
    """group A and B, 100 rows each: 50 positives (score 0.9) and 50 negatives of which `fp_*` score 0.8."""
    out = ["group,label,score,sex"]
    for group, fp in (("A", fp_a), ("B", fp_b)):
        for i in range(100):
            label = int(i < 50)
            score = 0.9 if label else (0.8 if i - 50 < fp else 0.2)
            out.append(f"{group},{label},{score},{'F' if i % 5 == 0 else 'M'}")
    return "\n".join(out) + "\n"


@pytest.fixture
def demo(pytester):
    pytester.makefile(".yaml", rai_demo=POLICY)
    pytester.makefile(".csv", data=rows())
    return pytester


def test_inert_without_the_flag(demo):
    result = demo.runpytest()
    assert result.ret == pytest.ExitCode.NO_TESTS_COLLECTED
    result.stdout.no_fnmatch_line("*rai-policy:*")


def test_one_item_per_rule_named_by_rule_id(demo):
    demo.makefile(".yaml", other=POLICY)  # does not match rai_*.yaml
    result = demo.runpytest("--rai-policy", "--collect-only", "-q")
    result.stdout.fnmatch_lines([f"rai_demo.yaml::{rid}" for rid in RULE_IDS] + ["5 tests collected*"])
    result.stdout.no_fnmatch_line("other.yaml*")

    explicit = demo.runpytest("--rai-policy", "--collect-only", "-q", "other.yaml")
    explicit.stdout.fnmatch_lines([f"other.yaml::{rid}" for rid in RULE_IDS])


def test_outcomes_fail_warn_waived_not_evaluable(demo):
    result = demo.runpytest("--rai-policy", "--rai-engine", "local", "-rA")
    result.assert_outcomes(passed=2, failed=2, skipped=1, warnings=1)
    result.stdout.fnmatch_lines([
        "*_ slice_gap fpr-gap _*",
        "fpr-gap (slice_gap, RAI-SLICE-002, severity error): FAIL",
        "  false_positive_rate: gap 0.3 > max_gap 0.1 (B 0.4 vs A 0.1)",
        "  measured: 0.3   bound: max_gap 0.1",
        "  slice: group=B",
        "  failing slices:",
        "    group=B: false_positive_rate 0.4 (n=100) (highest)",
        "    group=A: false_positive_rate 0.1 (n=100) (lowest)",
        "    gap 0.3 vs max_gap 0.1",
        "  policy: rai_demo.yaml:13",
    ])
    result.stdout.fnmatch_lines([
        "absent-group (slice_metric, RAI-SLICE-001, severity error): NOT_EVALUABLE",
        "  group(s) Z have no rows in the data",
    ])
    result.stdout.fnmatch_lines([
        "*rai_demo.yaml:23: RaiPolicyWarning: fpr-ceiling (slice_metric, severity warning): false_positive_rate 0.4 (B) > max 0.2*",
    ])
    result.stdout.fnmatch_lines([
        "PASSED rai_demo.yaml::recall-floor",
        "PASSED rai_demo.yaml::fpr-ceiling",
        "SKIPPED [1] rai_demo.yaml:29: waived: known issue, retraining scheduled (approved by ethics-board, expires 2999-01-01)",
        "FAILED rai_demo.yaml::fpr-gap - fail: false_positive_rate: gap 0.3*",
        "FAILED rai_demo.yaml::absent-group - not_evaluable: group(s) Z*",
    ])
    result.stdout.no_fnmatch_line("*Traceback*")
    result.stdout.no_fnmatch_line("*raise RuleFailed*")


def test_not_evaluable_can_skip(demo):
    result = demo.runpytest("--rai-policy", "--rai-engine", "local", "--rai-not-evaluable", "skip", "-rs")
    result.assert_outcomes(passed=2, failed=1, skipped=2, warnings=1)
    result.stdout.fnmatch_lines(["SKIPPED [1] rai_demo.yaml:34: not evaluable: group(s) Z have no rows in the data"])


def test_policy_that_does_not_load_is_one_failing_item(demo):
    demo.makefile(".yaml", rai_bad=BAD_POLICY)
    collected = demo.runpytest("--rai-policy", "--collect-only", "-q", "rai_bad.yaml")
    collected.stdout.fnmatch_lines(["rai_bad.yaml::<load>", "1 test collected*"])

    result = demo.runpytest("--rai-policy", "--rai-engine", "local", "rai_bad.yaml")
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines([
        "policy could not be loaded (2 problems):",
        "rai_bad.yaml:5:11: unknown rule kind 'slice_gapp'; did you mean 'slice_gap'?*",
        "rai_bad.yaml:9:13: unknown metric 'recal'; did you mean 'recall'?*",
        "FAILED rai_bad.yaml::<load> - rai_bad.yaml:5:11: unknown rule kind*",
    ])
    result.stdout.no_fnmatch_line("*Traceback*")


def test_severity_markers_select_rules(demo):
    demo.makefile(".yaml", rai_bad=BAD_POLICY)
    errors = demo.runpytest("--rai-policy", "--collect-only", "-q", "-m", "rai_error")
    errors.stdout.fnmatch_lines(["rai_bad.yaml::<load>", "rai_demo.yaml::fpr-gap", "*5/6 tests collected (1 deselected)*"])
    errors.stdout.no_fnmatch_line("*::fpr-ceiling")

    warnings_only = demo.runpytest("--rai-policy", "--collect-only", "-q", "-m", "rai_warning")
    warnings_only.stdout.fnmatch_lines(["rai_demo.yaml::fpr-ceiling", "*1/6 tests collected (5 deselected)*"])

    strict = demo.runpytest("--rai-policy", "--strict-markers", "-m", "rai_policy and not rai_error", "--rai-engine", "local")
    strict.assert_outcomes(passed=1, warnings=1, deselected=5)


def test_collect_only_imports_no_tensorflow(demo):
    demo.makeconftest("""
        import json, sys

        def pytest_collection_finish(session):
            with open("modules.json", "w") as f:
                json.dump({m: m in sys.modules for m in ("tensorflow", "pandas", "rai_policy.engine")}, f)
    """)
    result = demo.runpytest_subprocess("--rai-policy", "--collect-only", "-q")
    result.stdout.fnmatch_lines(["5 tests collected*"])
    modules = json.loads((demo.path / "modules.json").read_text())
    assert modules == {"tensorflow": False, "pandas": False, "rai_policy.engine": False}


def test_evidence_is_gathered_once_per_policy(demo):
    demo.makeconftest(COUNTING_CONFTEST)
    demo.makefile(".yaml", rai_second=POLICY.replace("name: demo", "name: second").replace("max_gap: 0.1", "max_gap: 0.5"))
    result = demo.runpytest("--rai-policy", "--rai-engine", "local")
    result.assert_outcomes(passed=5, failed=3, skipped=2, warnings=2)
    calls = json.loads((demo.path / "gather_calls.json").read_text())
    assert calls == [["local"], ["local"]]  # one evidence pass per policy, not one per rule


def test_missing_data_fails_every_item_with_the_message(demo):
    result = demo.runpytest("--rai-policy", "--rai-engine", "local", "--rai-data", "missing.csv")
    result.assert_outcomes(failed=5)
    result.stdout.fnmatch_lines(["*data file not found: *missing.csv*"] * 5)
    result.stdout.no_fnmatch_line("*Traceback*")


def test_input_error_raised_by_the_check_fails_each_item(demo):
    demo.makeconftest("""
        import rai_policy.engine as engine
        from rai_policy.errors import InputError

        def pytest_configure(config):
            config._rai_original = engine.run_check
            def broken(*args, **kwargs):
                raise InputError("baseline file not found: base.json")
            engine.run_check = broken

        def pytest_unconfigure(config):
            engine.run_check = config._rai_original
    """)
    result = demo.runpytest("--rai-policy")
    result.assert_outcomes(failed=5)
    result.stdout.fnmatch_lines(["FAILED rai_demo.yaml::fpr-gap - rai_demo.yaml: baseline file not found*"])
    result.stdout.no_fnmatch_line("*Traceback*")


def test_ini_options_with_command_line_winning(pytester):
    pytester.makefile(".yaml", rai_demo=POLICY.replace("  data: data.csv\n", "").replace("  label: label\n", ""))
    pytester.mkdir("inputs")
    pytester.path.joinpath("inputs", "scored.csv").write_text(rows(fp_b=5))
    pytester.makepyprojecttoml("""
        [tool.pytest.ini_options]
        rai_policy = true
        rai_data = ["inputs/scored.csv"]
        rai_label = "no_such_column"
        rai_engine = "local"
        rai_not_evaluable = "skip"
    """)
    wrong_label = pytester.runpytest()
    wrong_label.assert_outcomes(failed=5)
    wrong_label.stdout.fnmatch_lines(["*no_such_column*"])

    result = pytester.runpytest("--rai-label", "label", "-rs")
    result.stdout.fnmatch_lines(["rai-policy: engine local, policies rai_*.yaml, not-evaluable skip"])
    result.assert_outcomes(passed=4, skipped=1)  # equal FPRs now; the not-evaluable rule skips (ini)


def test_fixture_and_assertion_helpers(demo):
    demo.makepyfile(test_policy_api="""
        import pandas as pd
        import pytest
        from rai_policy.testing import assert_policy

        POLICY_TEXT = open("rai_demo.yaml").read()

        def test_verdict(rai_check):
            result = rai_check(POLICY_TEXT, data=pd.read_csv("data.csv"), engine="local")
            assert result == "pass"

        def test_assert_policy(rai_check):
            result = rai_check("rai_demo.yaml", engine="local")
            assert result.rule("fpr-gap").status == "fail"
            assert [r.id for r in result.failures] == ["fpr-gap", "absent-group"]
            assert_policy(result, "recall-floor")
            with pytest.raises(AssertionError, match="group=B: false_positive_rate 0.4"):
                assert_policy(result, "fpr-ceiling")  # a warn is a failed rule when asked for by id
            assert_policy(result)

        def test_truthiness(rai_check):
            import yaml
            policy = yaml.safe_load(POLICY_TEXT)
            policy["rules"] = [r for r in policy["rules"] if r["id"] == "fpr-gap"]
            del policy["waivers"]
            assert rai_check(policy, data="data.csv", engine="local")
    """)
    result = demo.runpytest("test_policy_api.py")
    result.assert_outcomes(failed=3)
    result.stdout.fnmatch_lines([
        "E       AssertionError: assert rai-policy verdict 'fail' == 'pass'",
        "E         policy 'demo': 2 of 5 rule(s) failing",
        "E           fpr-gap: fail: false_positive_rate: gap 0.3 > max_gap 0.1 (B 0.4 vs A 0.1) [<policy text>:13]",
        "E             group=B: false_positive_rate 0.4 (n=100) (highest); group=A: false_positive_rate 0.1 (n=100) (lowest);*",
        "E           absent-group: not_evaluable: group(s) Z have no rows in the data [<policy text>:34]",
    ])
    result.stdout.fnmatch_lines([
        "E       AssertionError: policy 'demo': verdict fail (exit 1); 2 of 5 rule(s) failing",
        "E         fpr-gap (slice_gap, RAI-SLICE-002, severity error): FAIL",
        "E           policy: rai_demo.yaml:13",
        "E         absent-group (slice_metric, RAI-SLICE-001, severity error): NOT_EVALUABLE",
    ])
    result.stdout.fnmatch_lines(["E       AssertionError: assert <Result 'demo' FAIL (exit 1, {'fail': 1}) failing: fpr-gap fail:*"])


def test_compas_example_policy_is_collected(pytester):
    if not COMPAS.exists():
        pytest.skip(f"COMPAS data not found: {COMPAS}")
    df = pandas.read_csv(COMPAS)
    df["score"] = df["decile_score"] / 10
    df.to_csv(pytester.path / "compas_scored.csv", index=False)
    shutil.copy(EXAMPLES / "rai_compas.yaml", pytester.path / "rai_compas.yaml")
    result = pytester.runpytest("--rai-policy", "--rai-data", "compas_scored.csv", "--rai-engine", "local")
    result.assert_outcomes(passed=2, failed=1, warnings=1)
    result.stdout.fnmatch_lines([
        "  false_positive_rate: gap 0.213925 > max_gap 0.05 (African-American 0.448468 vs Caucasian 0.234543)",
        "  slice: race=African-American",
        "    race=African-American: false_positive_rate 0.448468 (n=3696) (highest)",
        "    race=Caucasian: false_positive_rate 0.234543 (n=2454) (lowest)",
        "  policy: rai_compas.yaml:12",
        "  description: False positive rates*",
    ])
    result.stdout.fnmatch_lines(["*RaiPolicyWarning: fnr-gap-race (slice_gap, severity warning): false_negative_rate: gap 0.197373*"])


@pytest.mark.slow
def test_representation_and_slice_rules_share_one_evidence_pass(demo):
    """TFDV (representation) and slice metrics for five rules: one gather, each tool once."""
    demo.makeconftest(COUNTING_CONFTEST)
    demo.makefile(".yaml", rai_demo=POLICY + (
        "  - id: sex-representation\n    kind: representation\n    feature: sex\n    min_share: 0.3\n"
        "  - id: group-representation\n    kind: representation\n    feature: group\n    min_share: 0.3\n"))
    # TFDV's display_util emits a DeprecationWarning when it is compiled without a cached .pyc:
    # ignore third-party deprecations so the count is our one RaiPolicyWarning on any machine
    result = demo.runpytest_subprocess("--rai-policy", "--rai-engine", "local", "-W", "ignore::DeprecationWarning")
    result.assert_outcomes(passed=3, failed=3, skipped=1, warnings=1)
    result.stdout.fnmatch_lines(["*sex=F: share 0.2 (n=40) < min_share 0.3*"])
    calls = json.loads((demo.path / "gather_calls.json").read_text())
    assert calls == [["local", "tfdv"]]
