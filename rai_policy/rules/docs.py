"""Rule documentation from the rule classes' docstrings (`rai-policy explain`, docs/rules.md)."""
from __future__ import annotations

import inspect

from rai_policy.rules.registry import find, rule_kinds


def explain(kind_or_code: str) -> str | None:
    cls = find(kind_or_code)
    if cls is None:
        return None
    head = f"{cls.kind}  ({cls.code}, {cls.name})"
    return f"{head}\n{'=' * len(head)}\n\n{inspect.cleandoc(cls.__doc__)}\n"


def listing() -> str:
    rows = [f"  {cls.kind:<16} {cls.code:<14} {inspect.cleandoc(cls.__doc__).splitlines()[0]}"
            for cls in rule_kinds().values()]
    return "rule kinds (rai-policy explain KIND):\n" + "\n".join(rows)


def markdown() -> str:
    """docs/rules.md: every kind's documentation."""
    parts = ["# Rule kinds\n\nGenerated from the rule classes' docstrings (`rai-policy explain KIND`).\n"]
    for cls in rule_kinds().values():
        parts.append(f"## `{cls.kind}` — {cls.code}\n\n```text\n{inspect.cleandoc(cls.__doc__)}\n```\n")
    return "\n".join(parts)
