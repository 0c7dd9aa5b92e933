"""Shared fixtures: the real datasets from ../shared/data and one evaluated COMPAS check."""
from __future__ import annotations

from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
SHARED_DATA = REPO.parent / "shared" / "data"
POLICIES = REPO / "policies"


def shared(*parts: str) -> Path:
    path = SHARED_DATA.joinpath(*parts)
    if not path.exists():
        pytest.skip(f"shared dataset not found: {path} (../shared/data beside the checkout)")
    return path


@pytest.fixture(scope="session")
def compas_scored_csv(tmp_path_factory) -> Path:
    """COMPAS (all 7,214 rows) with score = decile_score / 10, as ProPublica's cut needs."""
    import pandas as pd

    df = pd.read_csv(shared("compas", "compas-scores-two-years.csv"))
    df["score"] = df["decile_score"] / 10
    out = tmp_path_factory.mktemp("compas") / "compas_scored.csv"
    df.to_csv(out, index=False)
    return out


@pytest.fixture(scope="session")
def adult_csv(tmp_path_factory) -> Path:
    """UCI Adult adult.data with its column names (the file has no header)."""
    import pandas as pd

    names = ["age", "workclass", "fnlwgt", "education", "education_num", "marital_status", "occupation",
             "relationship", "race", "sex", "capital_gain", "capital_loss", "hours_per_week", "native_country",
             "income"]
    df = pd.read_csv(shared("adult", "adult.data"), header=None, names=names, skipinitialspace=True)
    out = tmp_path_factory.mktemp("adult") / "adult.csv"
    df.to_csv(out, index=False)
    return out


@pytest.fixture(scope="session")
def compas_report(compas_scored_csv):
    """One evaluated COMPAS check (local engine) shared by every test that only reads a report."""
    from rai_policy import engine
    from rai_policy.policy.loader import load_policy
    from rai_policy.subject import resolve

    loaded = load_policy(POLICIES / "compas_fairness.yaml")
    subject = resolve(loaded.model.subject, POLICIES, data=(str(compas_scored_csv),))
    return engine.run_check(loaded, subject, engine.CheckOptions(engine="local"))


@pytest.fixture(autouse=True, scope="session")
def _private_evidence_cache(tmp_path_factory):
    """CLI runs in tests cache evidence in a session-private directory, never in ~/.cache."""
    import os

    old = os.environ.get("RAI_POLICY_CACHE_DIR")
    os.environ["RAI_POLICY_CACHE_DIR"] = str(tmp_path_factory.mktemp("evidence-cache"))
    yield
    if old is None:
        os.environ.pop("RAI_POLICY_CACHE_DIR", None)
    else:
        os.environ["RAI_POLICY_CACHE_DIR"] = old
