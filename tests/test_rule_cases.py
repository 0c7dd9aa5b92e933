"""Every case in tests/rule_cases/*.yml: rule + evidence → expected status (no TensorFlow)."""
from pathlib import Path

import pytest

from rai_policy.rule_cases import load_cases, run_case

CASES = [c for f in sorted((Path(__file__).parent / "rule_cases").glob("*.yml")) for c in load_cases(f)]


@pytest.mark.parametrize("case", CASES, ids=[f"{Path(c.file).stem}::{c.name}" for c in CASES])
def test_rule_case(case):
    finding = run_case(case)
    assert finding.status.value == case.expect, finding.message
    if case.value is not None:
        assert finding.value == pytest.approx(case.value, abs=1e-9)
    if case.message_contains:
        assert case.message_contains in finding.message


def test_every_rule_kind_has_cases():
    from rai_policy.rules.registry import rule_kinds

    covered = {c.rule["kind"] for c in CASES}
    assert set(rule_kinds()) <= covered
