"""Membership-inference evidence with TF Privacy's real attacks (field case B25: member = positive,
verdict independent of the label orientation).  Attack tests import TF Privacy (~20 s): slow."""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from rai_policy.errors import InputError
from rai_policy.evidence.mia_adapter import load_membership_data, run_membership_attack

LIMIT = 0.6  # policy: membership_inference: max_attack_auc: 0.6


def leaky_losses(seed: int = 0, n: int = 2000):
    """Members have lower losses: log-loss shifted by 0.545 sd, so AUC = Phi(0.545 / sqrt 2) ~ 0.65."""
    rng = np.random.default_rng(seed)
    return np.exp(rng.normal(-1.0, 1.0, n)), np.exp(rng.normal(-1.0 + 0.545, 1.0, n))


def mixed_losses(seed: int = 1, n: int = 2000):
    rng = np.random.default_rng(seed)
    return np.exp(rng.normal(-1.0, 1.0, n)), np.exp(rng.normal(-1.0, 1.0, n))


def write_csv(path, members, nonmembers, member_value=1):
    df = pd.DataFrame(
        {
            "loss": np.concatenate([members, nonmembers]),
            "member": [member_value] * len(members) + [1 - member_value] * len(nonmembers),
        }
    )
    df.to_csv(path, index=False)
    return path


@pytest.mark.slow
def test_b25_leaky_model_fails_under_both_label_orientations(tmp_path):
    members, nonmembers = leaky_losses()
    messages = []
    straight = run_membership_attack(members, nonmembers, progress=messages.append)
    flipped = run_membership_attack(nonmembers, members)  # same data, member labels flipped
    assert messages and "TF Privacy" in messages[0]

    assert straight.attack_type == "threshold"
    assert (straight.n_members, straight.n_nonmembers) == (2000, 2000)
    assert 0.62 < straight.attack_auc < 0.68 and straight.raw_auc > 0.5  # members: lower loss
    assert straight.attack_auc > LIMIT  # the check fails
    # identical verdict and figures under the flipped orientation; raw AUC is the complement
    assert flipped.attack_auc == pytest.approx(straight.attack_auc, abs=1e-12)
    assert flipped.advantage == pytest.approx(straight.advantage, abs=1e-12)
    assert flipped.raw_auc == pytest.approx(1 - straight.raw_auc, abs=1e-12)
    assert flipped.attack_auc > LIMIT
    assert "member = positive" in straight.convention

    # through the loader: a file whose member column says the opposite gives the same verdict
    a = load_membership_data(write_csv(tmp_path / "a.csv", members, nonmembers, member_value=1))
    b = load_membership_data(write_csv(tmp_path / "b.csv", members, nonmembers, member_value=0))
    ra, rb = run_membership_attack(*a), run_membership_attack(*b)
    assert ra.attack_auc == pytest.approx(straight.attack_auc, abs=1e-12)
    assert rb.attack_auc == pytest.approx(ra.attack_auc, abs=1e-12)
    print(f"B25: attack_auc={straight.attack_auc:.4f} raw={straight.raw_auc:.4f} "
          f"flipped raw={flipped.raw_auc:.4f} advantage={straight.advantage:.4f}")


@pytest.mark.slow
def test_well_mixed_losses_give_auc_near_half():
    members, nonmembers = mixed_losses()
    r = run_membership_attack(members, nonmembers)
    assert 0.5 <= r.attack_auc < 0.53
    assert r.attack_auc < LIMIT  # the check passes
    print(f"mixed: attack_auc={r.attack_auc:.4f} raw={r.raw_auc:.4f}")


@pytest.mark.slow
def test_trained_attack_is_reproducible_and_strongest_is_reported():
    members, nonmembers = leaky_losses(n=500)
    r1 = run_membership_attack(members, nonmembers, attack_types=("threshold", "lr"), seed=3)
    r2 = run_membership_attack(members, nonmembers, attack_types=("threshold", "lr"), seed=3)
    assert r1 == r2
    threshold = run_membership_attack(members, nonmembers)
    assert r1.attack_auc >= threshold.attack_auc
    assert r1.attack_type in ("threshold", "lr")


# ------------------------------------------------------------------ input errors (no TF import)


def test_unknown_attack_type_is_rejected_before_importing_tf():
    with pytest.raises(InputError, match="unknown membership attack"):
        run_membership_attack([0.1, 0.2], [0.3], attack_types=("threshold-entropy",))


@pytest.mark.parametrize(
    "train, test, message",
    [
        ([], [0.1], "member losses: no examples"),
        ([0.1, float("nan")], [0.2], r"member losses: 1 non-finite losses \(1 NaN, 0 inf\)"),
        ([0.1], [float("inf")], r"non-member losses: 1 non-finite losses \(0 NaN, 1 inf\)"),
    ],
)
def test_bad_loss_arrays(train, test, message):
    with pytest.raises(InputError, match=message):
        run_membership_attack(train, test)


def test_load_csv_and_npz(tmp_path):
    members, nonmembers = np.array([0.1, 0.2, 0.3]), np.array([0.5, 0.6])
    m, n = load_membership_data(write_csv(tmp_path / "d.csv", members, nonmembers))
    assert m.tolist() == members.tolist() and n.tolist() == nonmembers.tolist()
    npz = tmp_path / "d.npz"
    np.savez(npz, loss=np.concatenate([members, nonmembers]), member=np.array([1, 1, 1, 0, 0]))
    m2, n2 = load_membership_data(npz)
    assert m2.tolist() == members.tolist() and n2.tolist() == nonmembers.tolist()


@pytest.mark.parametrize(
    "csv, message",
    [
        ("loss,label\n0.1,1\n", "missing column(s) member (found: loss, label)"),
        ("loss,member\n0.1,1\n,0\n0.3,0\n,1\n", "2 of 4 rows have a NaN loss (data rows 2, 4"),
        ("loss,member\n0.1,1\n0.2,1\n", "no non-members (no row with member = 0)"),
        ("loss,member\n0.1,0\n0.2,0\n", "no members (no row with member = 1)"),
        ("loss,member\n0.1,1\n0.2,2\n0.3,yes\n", "member must be 1 (training member) or 0 (not); 2 rows"),
        ("loss,member\nabc,1\n0.2,0\n", "1 of 2 rows have a non-numeric loss (data rows 1;"),
    ],
)
def test_load_errors(tmp_path, csv, message):
    path = tmp_path / "d.csv"
    path.write_text(csv)
    with pytest.raises(InputError) as info:
        load_membership_data(path)
    assert message in str(info.value)


def test_load_missing_file_and_suffix(tmp_path):
    with pytest.raises(InputError, match="file not found"):
        load_membership_data(tmp_path / "none.csv")
    other = tmp_path / "d.parquet"
    other.write_text("x")
    with pytest.raises(InputError, match="expected a .csv or .npz file"):
        load_membership_data(other)


def test_load_npz_missing_array(tmp_path):
    path = tmp_path / "d.npz"
    np.savez(path, loss=np.array([0.1, 0.2]))
    with pytest.raises(InputError, match="missing column.s. member"):
        load_membership_data(path)
