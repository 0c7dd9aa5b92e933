"""The frozen report every renderer reads.  It serialises to builtin types with stable order.

JSON contract (keep these names stable): top level `schema_version`, `verdict`
(pass|fail|not_evaluable|error), `exit_code`, `rules`; each rule `id`, `kind`, `status`,
`severity`, `value`, `bound`, `message`, `measurements` ({slice, metric, value, count, …}).
"""
from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field

SCHEMA_VERSION = "1.0"
TIME_FIELDS = ("started", "duration_seconds", "timings")  # the only fields that differ between identical runs


@dataclass(frozen=True)
class RuleResult:
    id: str
    kind: str
    code: str
    status: str
    severity: str
    value: float | None
    bound: dict
    message: str
    measurements: tuple[dict, ...] = ()
    worst_slice: dict | None = None
    notes: tuple[str, ...] = ()
    location: dict | None = None  # {file, line, column} of the rule in its policy file
    waiver: dict | None = None
    description: str | None = None
    summary: str | None = None  # the rule kind's one-line documentation

    @property
    def slice_label(self) -> str:
        if not self.worst_slice:
            return ""
        return ", ".join(f"{k}={v}" for k, v in self.worst_slice.items())


@dataclass(frozen=True)
class Report:
    verdict: str
    exit_code: int
    policy: dict
    rules: tuple[RuleResult, ...]
    subject: dict = field(default_factory=dict)
    evidence: dict = field(default_factory=dict)
    provenance: dict = field(default_factory=dict)
    errors: tuple[str, ...] = ()
    disabled: dict = field(default_factory=dict)
    baseline: dict | None = None
    schema_version: str = SCHEMA_VERSION

    def counts(self) -> dict[str, int]:
        out: dict[str, int] = {}
        for r in self.rules:
            out[r.status] = out.get(r.status, 0) + 1
        return dict(sorted(out.items()))

    def by_status(self, *statuses: str) -> list[RuleResult]:
        return [r for r in self.rules if r.status in statuses]

    def to_dict(self) -> dict:
        d = {
            "schema_version": self.schema_version,
            "verdict": self.verdict,
            "exit_code": self.exit_code,
            "summary": self.counts(),
            "policy": self.policy,
            "subject": self.subject,
            "rules": [asdict(r) for r in self.rules],
            "evidence": self.evidence,
            "errors": list(self.errors),
            "disabled": self.disabled,
            "baseline": self.baseline,
            "provenance": self.provenance,
        }
        return clean(d)


def clean(obj):
    """Builtin, JSON-safe, deterministic: tuples → lists, NaN/inf → None, keys as strings."""
    if isinstance(obj, dict):
        return {str(k): clean(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [clean(v) for v in obj]
    if isinstance(obj, float):
        return obj if math.isfinite(obj) else None
    if hasattr(obj, "item") and not isinstance(obj, (str, bytes)):  # numpy scalar
        return clean(obj.item())
    if obj is None or isinstance(obj, (str, int, bool)):
        return obj
    return str(obj)
