"""Files that ship beside the code: the Jinja2 report templates and the policy packs.

In a checkout (and an editable install) they are the repository's `reports_templates/` and
`policies/`; a wheel carries copies under `rai_policy/_resources/` (see pyproject.toml).
"""
from __future__ import annotations

from pathlib import Path

_PACKAGE = Path(__file__).resolve().parent


def resource_dir(name: str) -> Path:
    """`reports_templates` or `policies`, wherever this installation keeps them."""
    for candidate in (_PACKAGE / "_resources" / name, _PACKAGE.parent / name):
        if candidate.is_dir():
            return candidate
    raise FileNotFoundError(f"rai-policy's {name}/ folder is missing from this installation")
