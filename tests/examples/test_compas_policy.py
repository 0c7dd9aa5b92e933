"""Example: a policy checked from an ordinary test with the `rai_check` fixture (rai_policy plugin).

The fixture needs no `--rai-policy` flag; it returns `rai_policy.testing.check`.  The data is an
in-memory DataFrame (COMPAS with score = decile_score / 10), the policy the file beside this test.
"""
from __future__ import annotations

from pathlib import Path

import pytest

from rai_policy.testing import assert_policy

DATA = Path(__file__).resolve().parents[3] / "shared" / "data" / "compas" / "compas-scores-two-years.csv"
POLICY = Path(__file__).with_name("rai_compas.yaml")


@pytest.fixture(scope="module")
def compas_scored():
    if not DATA.exists():
        pytest.skip(f"COMPAS data not found: {DATA}")
    import pandas as pd

    df = pd.read_csv(DATA)
    df["score"] = df["decile_score"] / 10
    return df


def test_fpr_gap_fails_with_propublica_value(rai_check, compas_scored):
    result = rai_check(POLICY, data=compas_scored, engine="local")

    assert not result.passed
    assert result == "fail"
    fpr = result.rule("fpr-gap-race")
    assert fpr.status == "fail"
    assert fpr.value == pytest.approx(0.213925, abs=1e-6)
    assert result.rule("fnr-gap-race").status == "warn"  # severity warning: reported, not blocking
    assert result.rule("recall-floor-race").status == "pass"
    assert [r.id for r in result.failures] == ["fpr-gap-race"]


def test_assert_policy_names_the_failing_slices(rai_check, compas_scored):
    result = rai_check(POLICY, data=compas_scored, engine="local")

    with pytest.raises(AssertionError) as excinfo:
        assert_policy(result, "fpr-gap-race")
    message = str(excinfo.value)
    assert "fpr-gap-race" in message
    assert "race=African-American: false_positive_rate 0.448468" in message
    assert "race=Caucasian: false_positive_rate 0.234543" in message
    assert "gap 0.213925 vs max_gap 0.05" in message

    assert_policy(result, "recall-floor-race")  # a passing rule does not raise
