"""Model Card Toolkit: read a model card JSON and validate it against MCT's packaged JSON schema.

Importing `model_card_toolkit` imports TFMA and needs the slow pure-Python protobuf backend (see
docs/STACK.md), so this adapter uses only the schema files MCT ships, located without importing
the package.  Rendering a card with MCT's own templates runs in a child process (`rai_policy.demo`).
"""
from __future__ import annotations

import importlib.util
import json
from pathlib import Path

from rai_policy.errors import InputError
from rai_policy.evidence.types import ModelCardDoc


class UnknownSchemaVersion(Exception):
    pass


def schema_dir() -> Path:
    spec = importlib.util.find_spec("model_card_toolkit")
    if spec is None or not spec.submodule_search_locations:
        raise FileNotFoundError("model-card-toolkit is not installed")
    return Path(list(spec.submodule_search_locations)[0]) / "schema"


def known_versions() -> list[str]:
    return sorted(p.name[1:] for p in schema_dir().glob("v*") if (p / "model_card.schema.json").is_file())


def summary(card: ModelCardDoc) -> dict:
    """What a reviewer sees first: the card's path, schema version, name, version and overview."""
    doc = card.document if isinstance(card.document, dict) else {}
    details = doc.get("model_details") if isinstance(doc.get("model_details"), dict) else {}
    version = details.get("version")
    declared = doc.get("schema_version")
    out = {"path": card.path, "found": card.found,
           "schema_version": card.schema_version if declared or not card.schema_version
           else f"{card.schema_version} (assumed: the card declares none)",
           "name": details.get("name"), "version": version.get("name") if isinstance(version, dict) else version,
           "overview": details.get("overview")}
    # an empty or "None" field is absent for the reader too: never rendered as "Model Card for None"
    return {k: v for k, v in out.items()
            if v is not None and not (isinstance(v, str) and v.strip().lower() in ("", "none", "null"))}


def read_model_card(path: str) -> ModelCardDoc:
    """Parse and schema-check the card at `path` (absent → found=False).  A card that declares a
    schema version MCT does not ship raises UnknownSchemaVersion; a path that exists but is not a
    file (a directory, a device) is an InputError, not a missing card."""
    import jsonschema

    p = Path(path)
    if p.is_dir():
        raise InputError(f"model card {path} is a directory, not a model card file "
                         "(give the card's JSON file, e.g. model_card.json)")
    if p.exists() and not p.is_file():
        raise InputError(f"model card {path} is not a regular file")
    if not p.is_file():
        return ModelCardDoc(str(path), found=False)
    try:
        document = json.loads(p.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        return ModelCardDoc(str(path), True, parse_error=str(exc))
    if not isinstance(document, dict):
        return ModelCardDoc(str(path), True, parse_error="the top level is not a JSON object")
    versions = known_versions()
    version = str(document.get("schema_version") or versions[-1])
    if version not in versions:
        raise UnknownSchemaVersion(f"model card {path} declares schema_version {version!r}; "
                                   f"Model Card Toolkit ships {', '.join(versions)}")
    schema = json.loads((schema_dir() / f"v{version}" / "model_card.schema.json").read_text())
    validator = jsonschema.Draft7Validator(schema)
    errors = sorted(validator.iter_errors(document), key=lambda e: list(e.absolute_path))
    messages = tuple(f"{'.'.join(map(str, e.absolute_path)) or '(top level)'}: {e.message}" for e in errors)
    return ModelCardDoc(str(path), True, document, version, messages)
