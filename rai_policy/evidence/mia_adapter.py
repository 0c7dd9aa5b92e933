"""Membership-inference evidence: TF Privacy's membership inference attacks on per-example losses.

Convention (field case B25): **member = positive class**.  ``raw_auc`` is the attack's ROC AUC
for telling training members (label 1) from non-members (label 0), from the attack's membership
scores; ``raw_auc > 0.5`` means members look more "member-like" (for the threshold attack: lower
loss).  Because an attacker can always invert its decision, the figure a policy compares is
``attack_auc = max(raw_auc, 1 - raw_auc)``; ``advantage = max |TPR - FPR|`` over thresholds is
symmetric already.  Feeding the same data with the member labels flipped therefore gives the same
``attack_auc`` and ``advantage`` (``raw_auc`` becomes ``1 - raw_auc``).

TF Privacy 0.8.12 also labels members 1 (``np.ones(ntrain)`` for ``loss_train`` in
``membership_inference_attack.py::_run_threshold_attack`` and ``models.py::create_attacker_data``);
the report behind B25 (tensorflow/privacy#140) was about an older version that labelled members 0.
``raw_auc`` is recomputed here from the membership scores so it does not depend on that internal
choice, and it is checked against TF Privacy's own AUC (equal, or its complement).

Trained attacks (``lr``, ``mlp``, ``rf``, ``knn``) use NumPy's global random state (balancing and
fold shuffling); ``seed`` fixes it for the call and the previous state is restored afterwards.

TF Privacy (and TensorFlow with it) is imported inside ``run_membership_attack`` only: ~20 s.
"""
from __future__ import annotations

import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Iterable

import numpy as np

from rai_policy.errors import InputError

# Attack names accepted (TF Privacy's AttackType values usable with losses alone).
ATTACK_TYPES = ("threshold", "lr", "mlp", "rf", "knn")

CONVENTION = (
    "member = positive class; raw_auc is the ROC AUC of the attack's membership scores for "
    "members (1) vs non-members (0); attack_auc = max(raw_auc, 1 - raw_auc) because an attacker "
    "can invert its decision; advantage = max |TPR - FPR|"
)


@dataclass(frozen=True)
class MembershipResult:
    """The strongest requested attack (highest attack_auc) on one member/non-member split."""

    attack_auc: float  # max(raw_auc, 1 - raw_auc): what a policy limit is compared with
    raw_auc: float  # ROC AUC with member = positive
    advantage: float  # max over thresholds of |TPR - FPR|
    attack_type: str  # e.g. "threshold"
    n_members: int
    n_nonmembers: int
    convention: str = CONVENTION


def _check_losses(name: str, values) -> np.ndarray:
    arr = np.asarray(values, dtype=float)
    if arr.ndim != 1:
        raise InputError(f"{name}: expected a 1-D array of per-example losses, got shape {arr.shape}")
    if arr.size == 0:
        raise InputError(f"{name}: no examples")
    bad = ~np.isfinite(arr)
    if bad.any():
        n_nan = int(np.isnan(arr).sum())
        raise InputError(
            f"{name}: {int(bad.sum())} non-finite losses ({n_nan} NaN, {int(bad.sum()) - n_nan} inf)"
        )
    return arr


def run_membership_attack(
    loss_train,
    loss_test,
    *,
    attack_types: Iterable[str] = ("threshold",),
    progress: Callable[[str], None] | None = None,
    seed: int = 0,
) -> MembershipResult:
    """Run TF Privacy's attacks on member losses (`loss_train`) vs non-member losses
    (`loss_test`) over the entire dataset; return the strongest attack's result."""
    members = _check_losses("member losses", loss_train)
    nonmembers = _check_losses("non-member losses", loss_test)
    names = list(attack_types)
    unknown = [a for a in names if a not in ATTACK_TYPES]
    if not names or unknown:
        raise InputError(
            f"unknown membership attack(s) {unknown or names}; choose from: {', '.join(ATTACK_TYPES)}"
        )

    say = progress or (lambda _msg: None)
    say("membership inference: importing TF Privacy (about 20 s)")
    from sklearn.metrics import roc_auc_score
    from tensorflow_privacy.privacy.privacy_tests.membership_inference_attack import (
        membership_inference_attack as mia,
    )
    from tensorflow_privacy.privacy.privacy_tests.membership_inference_attack.data_structures import (
        AttackInputData,
        AttackType,
        SlicingSpec,
    )

    say(f"membership inference: {', '.join(names)} on {members.size} members / {nonmembers.size} non-members")
    state = np.random.get_state()
    np.random.seed(seed)
    try:
        with warnings.catch_warnings():  # TF Privacy's epsilon lower bound warns on small counts
            warnings.simplefilter("ignore", RuntimeWarning)
            results = mia.run_attacks(
                AttackInputData(loss_train=members, loss_test=nonmembers),
                SlicingSpec(entire_dataset=True),
                attack_types=[AttackType(a) for a in names],
            )
    finally:
        np.random.set_state(state)

    best: MembershipResult | None = None
    for r in results.single_attack_results:
        scores = np.concatenate([r.membership_scores_train, r.membership_scores_test])
        labels = np.concatenate([np.ones(len(r.membership_scores_train)), np.zeros(len(r.membership_scores_test))])
        raw = float(roc_auc_score(labels, scores))
        tf_auc = float(r.get_auc())
        if min(abs(tf_auc - raw), abs(tf_auc - (1 - raw))) > 1e-6:
            raise RuntimeError(
                f"TF Privacy reported AUC {tf_auc} for {r.attack_type.value}, but its membership "
                f"scores give {raw} (member = positive): the orientation check failed"
            )
        candidate = MembershipResult(
            attack_auc=max(raw, 1 - raw),
            raw_auc=raw,
            advantage=float(r.get_attacker_advantage()),
            attack_type=r.attack_type.value,
            n_members=int(members.size),
            n_nonmembers=int(nonmembers.size),
        )
        if best is None or candidate.attack_auc > best.attack_auc:
            best = candidate
    if best is None:
        raise RuntimeError(f"TF Privacy returned no attack result for {names}")
    return best


def load_membership_data(path: str | Path) -> tuple[np.ndarray, np.ndarray]:
    """Read `loss` and `member` (1 = training member, 0 = not) from a CSV or .npz file and return
    (member losses, non-member losses).  Any problem is an InputError that says what and where."""
    import pandas as pd

    p = Path(path)
    if not p.exists():
        raise InputError(f"membership data {p}: file not found")
    suffix = p.suffix.lower()
    if suffix == ".csv":
        try:
            df = pd.read_csv(p)
        except Exception as e:  # pandas raises several types for malformed files
            raise InputError(f"membership data {p}: cannot read CSV ({e})") from None
        available = list(df.columns)
        columns = {c: df[c].to_numpy() for c in ("loss", "member") if c in df.columns}
    elif suffix == ".npz":
        try:
            with np.load(p, allow_pickle=False) as z:
                available = list(z.files)
                columns = {c: np.asarray(z[c]) for c in ("loss", "member") if c in z.files}
        except Exception as e:
            raise InputError(f"membership data {p}: cannot read .npz ({e})") from None
    else:
        raise InputError(f"membership data {p}: expected a .csv or .npz file")

    missing = [c for c in ("loss", "member") if c not in columns]
    if missing:
        raise InputError(
            f"membership data {p}: missing column(s) {', '.join(missing)} "
            f"(found: {', '.join(map(str, available)) or 'none'}); need loss and member (1 = member, 0 = not)"
        )
    loss, member = columns["loss"], columns["member"]
    if loss.ndim != 1 or member.ndim != 1 or loss.shape != member.shape:
        raise InputError(
            f"membership data {p}: loss and member must be 1-D of equal length, got {loss.shape} and {member.shape}"
        )
    raw_loss = pd.Series(loss)
    loss = pd.to_numeric(raw_loss, errors="coerce").to_numpy(dtype=float)
    for what, rows_mask in (
        ("a non-numeric loss", np.isnan(loss) & raw_loss.notna().to_numpy()),
        ("a NaN loss", np.isnan(loss)),
    ):
        if rows_mask.any():
            rows = ", ".join(str(i + 1) for i in np.flatnonzero(rows_mask)[:5])
            raise InputError(
                f"membership data {p}: {int(rows_mask.sum())} of {loss.size} rows have {what} "
                f"(data rows {rows}{', ...' if rows_mask.sum() > 5 else ''}; 1-based, header excluded)"
            )
    inf = np.isinf(loss)
    if inf.any():
        raise InputError(f"membership data {p}: {int(inf.sum())} of {loss.size} rows have an infinite loss")
    member_f = pd.to_numeric(pd.Series(member), errors="coerce").to_numpy(dtype=float)
    bad = ~np.isin(member_f, (0.0, 1.0))
    if bad.any():
        seen = sorted({str(v) for v in member[bad]})[:5]
        raise InputError(
            f"membership data {p}: member must be 1 (training member) or 0 (not); "
            f"{int(bad.sum())} rows have other values ({', '.join(seen)})"
        )
    is_member = member_f == 1.0
    if not is_member.any():
        raise InputError(f"membership data {p}: no members (no row with member = 1)")
    if is_member.all():
        raise InputError(f"membership data {p}: no non-members (no row with member = 0)")
    return loss[is_member], loss[~is_member]
