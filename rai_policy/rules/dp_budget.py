"""`dp_budget`: the privacy loss ε of DP-SGD training stays within budget."""
from __future__ import annotations

from typing import Literal

from pydantic import Field

from rai_policy.evidence.privacy_adapter import steps_phrase
from rai_policy.evidence.types import Evidence, PrivacyRequest
from rai_policy.rules.base import Finding, Measurement, Rule, RuleSpec, Status, fmt, numeric, within_max


class DpBudgetSpec(RuleSpec):
    kind: Literal["dp_budget"]
    max_epsilon: float = Field(gt=0)
    delta: float = Field(gt=0, lt=1)
    accountant: Literal["rdp", "pld"] = "rdp"
    _bound_numbers = numeric("max_epsilon", "delta")


class DpBudgetRule(Rule):
    """DP-SGD training spent at most `max_epsilon` at `delta`.

    What it checks: ε of the training record (examples, batch_size, epochs or steps,
    noise_multiplier, sampling, microbatching) computed with TF Privacy's accounting library
    (dp_accounting) using the accountant the policy names (`rdp` by default, or `pld`; the checker
    never picks the more favourable one).  The record must say `sampling: poisson` or `shuffle`
    (no default).  Steps: the record's `steps` if given (the message says "from the record", and
    what `epochs` would give when the two disagree), else ceil(epochs · examples / batch_size) for
    Poisson sampling and epochs · ceil(examples / batch_size) for shuffled batches.  With
    `sampling: shuffle` the ε is the Poisson-sampling figure and the finding says it is an
    assumption, not a proven guarantee.

    Why it matters: ε bounds how much any one training example can change the model; release
    policies fix a budget, and an accountant or step-count slip silently understates it.

    Example policy:
        - id: dp-epsilon
          kind: dp_budget
          max_epsilon: 3.0
          delta: 1.0e-5
          accountant: rdp

    Example finding:
        pass  dp-epsilon  ε 2.5971 ≤ 3 (rdp, poisson sampling, 14063 steps, δ=1e-05)
        pass  dp-epsilon  ε 1.5557 ≤ 3 (rdp, shuffle sampling, 5 steps from the record; epochs 10 would give 200, δ=1e-05)
        fail  when ε exceeds the budget, e.g. 60 epochs at noise 0.7.

    Options: max_epsilon, delta, accountant (rdp | pld).
    """

    kind = "dp_budget"
    code = "RAI-PRIV-001"
    name = "privacy.dp_budget"
    Spec = DpBudgetSpec

    def _request(self) -> PrivacyRequest:
        return PrivacyRequest(self.spec.accountant, float(self.spec.delta))

    def requests(self):
        return [self._request()]

    def evaluate(self, evidence: Evidence) -> Finding:
        spec = self.spec
        res = evidence.get(self._request())
        if (bad := self.unavailable(res)) is not None:
            return bad
        bound = {"max_epsilon": spec.max_epsilon, "delta": spec.delta, "accountant": spec.accountant}
        extra = {"accountant": res.accountant, "sampling": res.sampling, "steps": res.steps,
                 "steps_source": res.steps_source, "sampling_rate": res.sampling_rate,
                 "noise_multiplier": res.noise_multiplier,
                 "effective_noise_multiplier": res.effective_noise_multiplier,
                 "optimal_order": res.optimal_order, "delta": res.delta}
        meas = (Measurement("epsilon", res.epsilon, {}, None, extra),)
        assumptions = f"{res.accountant}, {res.sampling} sampling, {steps_phrase(res)}, δ={res.delta:g}"
        ok = within_max(res.epsilon, spec.max_epsilon)
        rel = "≤" if ok else ">"
        msg = f"ε {fmt(res.epsilon)} {rel} {fmt(spec.max_epsilon)} ({assumptions})"
        return Finding(Status.PASS if ok else Status.FAIL, msg, res.epsilon, bound, meas, None, tuple(res.notes))
