"""What every rule kind shares: its spec model, its finding, and the class contract.

A rule kind is a `Rule` subclass with a `kind` (the YAML discriminator), a stable `code`
(``RAI-XXXX-NNN``), a dotted `name`, a pydantic `Spec` (frozen, unknown keys forbidden), and two
methods: `requests()` says which evidence it needs, `evaluate(evidence)` turns that evidence into a
`Finding` without touching any tool.  The docstring is the rule's documentation (``rai-policy
explain``) and must carry the sections in `DOC_SECTIONS`.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from enum import Enum
from typing import Any, ClassVar, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from rai_policy.evidence.types import Evidence, EvidenceError

TOLERANCE = 1e-9  # bounds are inclusive and compared with this absolute tolerance
DOC_SECTIONS = ("What it checks", "Why it matters", "Example policy", "Example finding", "Options")
CODE_RE = re.compile(r"^RAI-[A-Z]+-\d{3}$")


class Status(str, Enum):
    PASS = "pass"
    FAIL = "fail"
    WARN = "warn"  # failed, but the rule's severity does not block
    NOT_EVALUABLE = "not_evaluable"
    ERROR = "error"
    WAIVED = "waived"


# PyYAML reads YAML 1.1, where a float needs a dot and a signed exponent: unquoted `1e-5` and
# `1.0e5` arrive as strings.  They are numbers as written (YAML 1.2, JSON), so this spelling is read
# as one; any other string in a number field is an error rather than pydantic's lax coercion.
_EXPONENT_NUMBER = re.compile(r"[-+]?(\d+(\.\d*)?|\.\d+)[eE][-+]?\d+")


def number_not_text(value):
    """Before-validator of numeric option fields: a quoted number ("0.05") or true/false is an
    error, not silently a number (pydantic's lax mode would take both)."""
    if isinstance(value, bool):
        raise ValueError(f"expected a number, got {str(value).lower()}")
    if isinstance(value, str):
        if _EXPONENT_NUMBER.fullmatch(value.strip()):
            return float(value)
        shown = value if len(value) <= 40 else value[:40] + "…"
        raise ValueError(f"expected a number, got the string {shown!r}")
    return value


def numeric(*fields: str):
    """A before-validator for a spec's numeric option fields (see `number_not_text`).  A validator,
    not an annotated type, so that the fields' `ge`/`le` bounds stay in the JSON Schema."""
    def check(cls, value):
        return number_not_text(value)
    return field_validator(*fields, mode="before")(check)


class RuleSpec(BaseModel):
    """Keys every rule has.  Subclasses add their kind-specific keys."""

    model_config = ConfigDict(frozen=True, extra="forbid", allow_inf_nan=False)  # NaN/inf bounds never judge

    id: str = Field(min_length=1, max_length=200, pattern=r"^[A-Za-z0-9][A-Za-z0-9_.\-]*$")
    kind: str
    severity: Literal["error", "warning", "info"] = "error"
    description: str | None = None


@dataclass(frozen=True)
class Measurement:
    """One measured number behind a finding: `slice` maps feature → value ({} = overall or n/a);
    `extra` carries kind-specific context (numerator, accountant, steps …)."""

    metric: str
    value: float | None
    slice: dict = field(default_factory=dict)
    count: int | None = None
    extra: dict = field(default_factory=dict)


@dataclass(frozen=True)
class Finding:
    """What a rule concluded.  `status` is one of pass / fail / not_evaluable / error (severity and
    waivers are applied later by the engine); `value` is the number compared with `bound`
    (None when undefined)."""

    status: Status
    message: str
    value: float | None = None
    bound: dict = field(default_factory=dict)
    measurements: tuple[Measurement, ...] = ()
    worst_slice: dict | None = None
    notes: tuple[str, ...] = ()


class Rule:
    """Base class of all rule kinds."""

    kind: ClassVar[str]
    code: ClassVar[str]
    name: ClassVar[str]
    Spec: ClassVar[type[RuleSpec]]
    aliases: ClassVar[tuple[str, ...]] = ()

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        if cls.__dict__.get("abstract", False):
            return
        for attr in ("kind", "code", "name", "Spec"):
            if attr not in cls.__dict__:
                raise TypeError(f"rule class {cls.__name__} must define {attr}")
        if not CODE_RE.match(cls.code):
            raise TypeError(f"rule {cls.__name__}: code {cls.code!r} must look like RAI-SLICE-001")
        doc = cls.__doc__ or ""
        missing = [s for s in DOC_SECTIONS if f"{s}:" not in doc]
        if missing:
            raise TypeError(f"rule {cls.__name__}: docstring lacks sections {missing}")

    def __init__(self, spec: RuleSpec):
        self.spec = spec

    @property
    def id(self) -> str:
        return self.spec.id

    def requests(self) -> list:
        """Evidence requests this rule needs (hashable, merged by the engine)."""
        raise NotImplementedError

    def evaluate(self, evidence: Evidence) -> Finding:
        """Turn evidence into a finding: pure, no tool calls."""
        raise NotImplementedError

    # helpers shared by the kinds
    @staticmethod
    def unavailable(result: object) -> Finding | None:
        """A finding for evidence that could not be gathered, else None."""
        if result is None:
            return Finding(Status.ERROR, "evidence was not gathered (internal wiring error)")
        if isinstance(result, EvidenceError):
            status = Status.NOT_EVALUABLE if result.not_evaluable else Status.ERROR
            return Finding(status, result.reason)
        return None


def within_min(value: float, bound: float) -> bool:
    return value >= bound - TOLERANCE


def within_max(value: float, bound: float) -> bool:
    return value <= bound + TOLERANCE


def fmt(x: float | None) -> str:
    if x is None:
        return "undefined"
    return f"{x:.6g}"
