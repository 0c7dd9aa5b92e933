"""The policy language's JSON Schema, generated from the pydantic models (one source of truth)."""
from __future__ import annotations

import json

from rai_policy.policy.models import policy_model


def schema() -> dict:
    doc = policy_model().model_json_schema()
    doc["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    doc["title"] = "rai-policy policy (version 1)"
    return doc


def schema_text() -> str:
    return json.dumps(schema(), indent=2, sort_keys=True) + "\n"
