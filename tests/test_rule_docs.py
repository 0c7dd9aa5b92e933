"""The docstring contract of every rule kind, and `rai-policy explain` built from it."""
import pytest

from rai_policy.cli import main
from rai_policy.rules.base import CODE_RE, DOC_SECTIONS, Rule
from rai_policy.rules.registry import rule_kinds


@pytest.mark.parametrize("kind", sorted(rule_kinds()))
def test_docstring_sections_and_code(kind):
    cls = rule_kinds()[kind]
    assert CODE_RE.match(cls.code)
    for section in DOC_SECTIONS:
        assert f"{section}:" in cls.__doc__
    assert f"kind: {kind}" in cls.__doc__  # the example policy uses the kind


def test_codes_are_unique():
    codes = [c.code for c in rule_kinds().values()]
    assert len(codes) == len(set(codes))


def test_rule_without_docs_is_rejected_at_class_creation():
    with pytest.raises(TypeError, match="docstring lacks sections"):
        class Bad(Rule):  # noqa: F841
            """No sections."""
            kind, code, name, Spec = "bad", "RAI-BAD-001", "x.bad", object


@pytest.mark.parametrize("name", ["slice_gap", "RAI-SLICE-002"])
def test_explain(name, capsys):
    assert main(["explain", name]) == 0
    out = capsys.readouterr().out
    assert "Example policy:" in out and "RAI-SLICE-002" in out


def test_explain_unknown(capsys):
    assert main(["explain", "nope"]) == 2
    assert "unknown rule kind" in capsys.readouterr().err


def test_docs_rules_md_is_current():
    from pathlib import Path

    from rai_policy.rules.docs import markdown

    assert (Path(__file__).resolve().parents[1] / "docs" / "rules.md").read_text() == markdown()
