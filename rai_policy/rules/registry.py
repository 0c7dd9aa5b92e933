"""Which rule kinds exist: the `rai_policy.rules` entry-point group, read lazily.

Built-in kinds are registered through the same group as third-party ones (see pyproject.toml).
Rule modules import no TensorFlow, so reading the registry is cheap.
"""
from __future__ import annotations

from functools import lru_cache
from importlib import import_module
from importlib.metadata import entry_points

from rai_policy.rules.base import Rule

GROUP = "rai_policy.rules"
# Used only when the package metadata is not installed (running from a bare source tree).
_BUILTIN = {
    "slice_metric": "rai_policy.rules.slice_metric:SliceMetricRule",
    "slice_gap": "rai_policy.rules.slice_gap:SliceGapRule",
    "representation": "rai_policy.rules.representation:RepresentationRule",
    "dp_budget": "rai_policy.rules.dp_budget:DpBudgetRule",
    "model_card": "rai_policy.rules.model_card:ModelCardRule",
    "membership_inference": "rai_policy.rules.membership_inference:MembershipInferenceRule",
}


def _load(target: str) -> type[Rule]:
    module, _, attr = target.partition(":")
    return getattr(import_module(module), attr)


@lru_cache(maxsize=1)
def rule_kinds() -> dict[str, type[Rule]]:
    """kind → Rule class, sorted by kind."""
    found = {ep.name: ep.value for ep in entry_points(group=GROUP)}
    targets = {**_BUILTIN, **found}
    kinds: dict[str, type[Rule]] = {}
    for name, target in sorted(targets.items()):
        cls = _load(target)
        if not (isinstance(cls, type) and issubclass(cls, Rule)) or cls.kind != name:
            raise TypeError(f"entry point {name} = {target} is not a Rule of kind {name!r}")
        kinds[name] = cls
    return kinds


def find(kind_or_code: str) -> type[Rule] | None:
    """A rule class by kind, code or alias (for `explain`)."""
    for cls in rule_kinds().values():
        if kind_or_code in (cls.kind, cls.code, cls.name, *cls.aliases):
            return cls
    return None
