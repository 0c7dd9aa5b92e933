"""`membership_inference`: a membership-inference attack cannot tell training members from non-members."""
from __future__ import annotations

from typing import Literal

from pydantic import Field, field_validator, model_validator

from rai_policy.evidence.types import Evidence, MembershipRequest
from rai_policy.rules.base import Finding, Measurement, Rule, RuleSpec, Status, fmt, numeric, within_max

AttackName = Literal["threshold", "lr", "mlp", "rf", "knn"]  # rai_policy.evidence.mia_adapter.ATTACK_TYPES


class MembershipInferenceSpec(RuleSpec):
    kind: Literal["membership_inference"]
    max_attack_auc: float | None = Field(None, ge=0.5, le=1.0)
    max_advantage: float | None = Field(None, ge=0.0, le=1.0)
    attacks: list[AttackName] = Field(default_factory=lambda: ["threshold"], min_length=1)
    _bound_numbers = numeric("max_attack_auc", "max_advantage")

    @field_validator("attacks")
    @classmethod
    def _distinct(cls, v):
        if len(set(v)) != len(v):
            raise ValueError("an attack is listed twice")
        return v

    @model_validator(mode="after")
    def _needs_a_bound(self):
        if self.max_attack_auc is None and self.max_advantage is None:
            raise ValueError("membership_inference needs `max_attack_auc` and/or `max_advantage`")
        return self


class MembershipInferenceRule(Rule):
    """The strongest membership-inference attack stays below an AUC (and/or advantage) limit.

    What it checks: TF Privacy's membership inference attacks (`attacks`, default the loss
    threshold attack) on per-example losses of training members and non-members (``--membership-data``:
    a CSV or .npz with columns `loss` and `member`, 1 = training member).  Convention: member =
    positive class.  Because an attacker can always invert its decision, the figure compared is
    attack AUC = max(AUC, 1 − AUC) of the strongest attack, and advantage = max |TPR − FPR|; the
    verdict is therefore the same whichever way the member column is coded.  Limits are
    inclusive (1e-9 tolerance).

    Why it matters: a model that memorises its training data leaks who was in it; an attack AUC
    well above 0.5 is evidence of that leak, whatever the model's accuracy.

    Example policy:
        - id: mia-auc
          kind: membership_inference
          max_attack_auc: 0.6
          attacks: [threshold, lr]

    Example finding:
        fail  mia-auc  attack AUC 0.65 > max_attack_auc 0.6 (threshold attack; AUC 0.65 with member = positive; advantage 0.21; 2000 members, 2000 non-members)
        pass  when the strongest attack's AUC is at most 0.6.

    Options: max_attack_auc (0.5 … 1), max_advantage (0 … 1), attacks (threshold, lr, mlp, rf, knn).
    """

    kind = "membership_inference"
    code = "RAI-PRIV-002"
    name = "privacy.membership_inference"
    Spec = MembershipInferenceSpec

    def _request(self) -> MembershipRequest:
        return MembershipRequest(tuple(sorted(self.spec.attacks)))

    def requests(self):
        return [self._request()]

    def evaluate(self, evidence: Evidence) -> Finding:
        spec = self.spec
        res = evidence.get(self._request())
        if (bad := self.unavailable(res)) is not None:
            return bad
        bound = {k: v for k, v in (("max_attack_auc", spec.max_attack_auc), ("max_advantage", spec.max_advantage))
                 if v is not None}
        extra = {"raw_auc": res.raw_auc, "advantage": res.advantage, "attack_type": res.attack_type,
                 "n_members": res.n_members, "n_nonmembers": res.n_nonmembers, "convention": res.convention}
        meas = (Measurement("attack_auc", res.attack_auc, {}, res.n_members + res.n_nonmembers, extra),
                Measurement("attacker_advantage", res.advantage, {}, res.n_members + res.n_nonmembers,
                            {"attack_type": res.attack_type}))
        problems = []
        if spec.max_attack_auc is not None and not within_max(res.attack_auc, spec.max_attack_auc):
            problems.append(f"attack AUC {fmt(res.attack_auc)} > max_attack_auc {fmt(spec.max_attack_auc)}")
        if spec.max_advantage is not None and not within_max(res.advantage, spec.max_advantage):
            problems.append(f"advantage {fmt(res.advantage)} > max_advantage {fmt(spec.max_advantage)}")
        context = (f"{res.attack_type} attack; AUC {fmt(res.raw_auc)} with member = positive; advantage "
                   f"{fmt(res.advantage)}; {res.n_members} members, {res.n_nonmembers} non-members")
        value = res.attack_auc if spec.max_attack_auc is not None else res.advantage
        if problems:
            return Finding(Status.FAIL, f"{'; '.join(problems)} ({context})", value, bound, meas)
        return Finding(Status.PASS, f"attack AUC {fmt(res.attack_auc)}, advantage {fmt(res.advantage)} within limits "
                       f"({context})", value, bound, meas)
