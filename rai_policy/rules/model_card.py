"""`model_card`: a model card exists, follows Model Card Toolkit's schema and fills the required fields."""
from __future__ import annotations

import re
from typing import Literal

from pydantic import Field, field_validator

from rai_policy.evidence.types import Evidence, ModelCardRequest
from rai_policy.rules.base import Finding, Measurement, Rule, RuleSpec, Status

EMPTY_STRINGS = {"", "none", "null"}


def is_empty(value) -> bool:
    """Missing for a model card: None, "", whitespace, the strings "None"/"null", empty containers."""
    if value is None:
        return True
    if isinstance(value, str):
        return value.strip().lower() in EMPTY_STRINGS
    if isinstance(value, (list, dict)):
        return len(value) == 0 or all(is_empty(v) for v in (value.values() if isinstance(value, dict) else value))
    return False


def lookup(doc, path: str):
    """Values at a dotted path; a list on the way fans out over its items."""
    current = [doc]
    for part in path.split("."):
        nxt = []
        for node in current:
            items = node if isinstance(node, list) else [node]
            for item in items:
                if isinstance(item, dict) and part in item:
                    nxt.append(item[part])
        current = nxt
    return current


def _norm(key: str) -> str:
    return re.sub(r"[_\-\s]", "", key).lower()


def hint(doc, path: str) -> str:
    """'found modelDetails' when a differently spelled key stands where `path` expects one."""
    node = doc
    for part in path.split("."):
        if not isinstance(node, dict):
            return ""
        if part in node:
            node = node[part]
            continue
        near = [k for k in node if _norm(k) == _norm(part)]
        return f" (found '{near[0]}': did you mean '{part}'?)" if near else ""
    return ""


class ModelCardSpec(RuleSpec):
    kind: Literal["model_card"]
    required: list[str] = Field(default_factory=lambda: ["model_details.name"], min_length=1)

    @field_validator("required")
    @classmethod
    def _dotted(cls, v):
        for p in v:
            if not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)*", p):
                raise ValueError(f"{p!r} is not a dotted field path like considerations.limitations")
        return v


class ModelCardRule(Rule):
    """A model card exists, is valid against Model Card Toolkit's JSON schema, and fills each required field.

    What it checks: the model card JSON (``--model-card``) exists, parses, validates against the
    schema version it declares (Model Card Toolkit's packaged v0.0.1/v0.0.2 schemas; an unknown
    version is an error), and every dotted path in `required` holds a non-empty value.  "None",
    "null", "" and whitespace count as empty; a path through a list is present when any item has it.
    A missing card fails; a directory (or other non-file) given as the card is an input error.

    Why it matters: release reviewers need the intended use, limitations and ethical
    considerations written down; an empty card rendered as "Model Card for None" documents nothing.

    Example policy:
        - id: model-card-complete
          kind: model_card
          required: [model_details.name, considerations.ethical_considerations]

    Example finding:
        fail  model-card-complete  missing or empty: considerations.ethical_considerations
        pass  when the card validates and both fields are filled.

    Options: required (list of dotted paths; default [model_details.name]).
    """

    kind = "model_card"
    code = "RAI-DOC-001"
    name = "documentation.model_card"
    Spec = ModelCardSpec

    def requests(self):
        return [ModelCardRequest()]

    def evaluate(self, evidence: Evidence) -> Finding:
        card = evidence.get(ModelCardRequest())
        if (bad := self.unavailable(card)) is not None:
            return bad
        bound = {"required": list(self.spec.required)}
        if not card.found:
            return Finding(Status.FAIL, f"model card not found at {card.path}", None, bound)
        if card.parse_error:
            return Finding(Status.FAIL, f"model card {card.path} is not valid JSON: {card.parse_error}", None, bound)
        missing = [p for p in self.spec.required if all(is_empty(v) for v in lookup(card.document, p))]
        meas = tuple(Measurement("present", 0.0 if p in missing else 1.0, {"field": p}) for p in self.spec.required)
        problems = []
        if card.schema_errors:
            problems.append(f"invalid against Model Card Toolkit schema v{card.schema_version}: "
                            + "; ".join(card.schema_errors[:5])
                            + (f" (+{len(card.schema_errors) - 5} more)" if len(card.schema_errors) > 5 else ""))
        if missing:
            problems.append("missing or empty: " + ", ".join(p + hint(card.document, p) for p in missing))
        present = len(self.spec.required) - len(missing)
        if problems:
            return Finding(Status.FAIL, "; ".join(problems), float(present), bound, meas)
        return Finding(Status.PASS, f"valid (schema v{card.schema_version}); all {present} required fields filled",
                       float(present), bound, meas)
