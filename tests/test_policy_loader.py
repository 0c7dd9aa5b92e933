"""Policy loading: located errors, suggestions, packs (`extends`), overrides, waivers, schema."""
from __future__ import annotations

import json
from pathlib import Path

import pytest

from rai_policy.cli import main
from rai_policy.errors import PolicyError
from rai_policy.policy.loader import load_policy, load_policy_text

REPO = Path(__file__).resolve().parents[1]

GOOD_RULE = "  - id: r1\n    kind: representation\n    feature: sex\n    min_share: 0.3\n"


def problems(text: str, tmp_path: Path) -> list[str]:
    p = tmp_path / "p.yaml"
    p.write_text(text)
    with pytest.raises(PolicyError) as exc:
        load_policy(p)
    return [str(x).replace(str(p), "p.yaml") for x in exc.value.problems]


def test_three_mistakes_all_reported_with_lines(tmp_path):
    text = ("version: 1\nname: t\nrules:\n"
            "  - id: a\n    kind: slice_gap\n    metric: false_positive_rat\n    slice_by: [race]\n    max_gap: 0.05\n"
            "  - id: b\n    kind: slice_metrc\n"
            "  - id: c\n    kind: representation\n    feature: sex\n    min_shar: 0.3\n")
    got = problems(text, tmp_path)
    assert got == [
        "p.yaml:6:13: unknown metric 'false_positive_rat'; did you mean 'false_positive_rate'?; metrics: recall, "
        "false_positive_rate, false_negative_rate, precision, accuracy, auc, selection_rate, example_count (rules[0].metric)",
        "p.yaml:10:11: unknown rule kind 'slice_metrc'; did you mean 'slice_metric'?; known kinds: dp_budget, membership_inference, "
        "model_card, representation, slice_gap, slice_metric (rules[1].kind)",
        "p.yaml:11:5: missing key 'min_share' (rules[2])",
        "p.yaml:14:5: unknown key 'min_shar'; did you mean 'min_share'? (rules[2].min_shar)",
    ]


@pytest.mark.parametrize("text,expected", [
    ("version: 1\nname: t\nrules: []\n", "a policy needs at least one rule"),
    ("version: 2\nname: t\nrules:\n" + GOOD_RULE, "p.yaml:1:10: Input should be 1"),
    ("version: 1\nname: t\nrules:\n" + GOOD_RULE + GOOD_RULE, "p.yaml:8:9: duplicate rule id 'r1'"),
    ("version: 1\nname: t\nrule:\n" + GOOD_RULE, "unknown key 'rule'; did you mean 'rules'?"),
    ("version: 1\nname: t\nname: u\nrules:\n" + GOOD_RULE, "p.yaml:3:1: duplicate key 'name'"),
    ("version: 1\nname: t\nrules:\n  - id: g\n    kind: slice_gap\n    metric: recall\n    slice_by: [race]\n",
     "slice_gap needs `max_gap` and/or `min_ratio`"),
    ("version: 1\nname: t\nrules:\n  - id: g\n    kind: slice_metric\n    metric: recall\n    slice_by: [a, b]\n"
     "    groups: [x]\n    min: 0.5\n", "names 1 value(s) but slice_by has 2 feature(s)"),
    ("- just\n- a list\n", "a policy must be a mapping"),
    ("version: 1\nname: t\nrules:\n  - id: x\n    kind: dp_budget\n    max_epsilon: -1\n    delta: 1.0e-5\n",
     "p.yaml:6:18: Input should be greater than 0 (rules[0].max_epsilon)"),
    ("a: !!python/object/apply:os.system [ls]\n", "cannot read value"),
])
def test_located_problem(text, expected, tmp_path):
    assert any(expected in p for p in problems(text, tmp_path)), problems(text, tmp_path)


def test_explicit_zero_is_a_bound_not_unset(tmp_path):
    p = tmp_path / "z.yaml"
    p.write_text("version: 1\nname: t\nrules:\n  - id: g\n    kind: slice_gap\n    metric: recall\n"
                 "    slice_by: [race]\n    max_gap: 0\n")
    assert load_policy(p).rules[0].max_gap == 0


def test_extends_pack_override_and_disable(tmp_path):
    p = tmp_path / "team.yaml"
    p.write_text("version: 1\nname: team\nextends: [packs/four_fifths.yaml]\noverrides:\n"
                 "  - rule: four-fifths-selection-rate\n    set: {slice_by: [race]}\n"
                 "  - rule: group-representation\n    disable: true\n    reason: measured in the data pipeline\n"
                 "rules:\n" + GOOD_RULE)
    loaded = load_policy(p)
    ids = [r.id for r in loaded.rules]
    assert ids == ["four-fifths-selection-rate", "equal-opportunity-recall-gap", "r1"]
    assert loaded.rules[0].slice_by == ["race"]
    assert loaded.disabled == {"group-representation": "measured in the data pipeline"}
    assert loaded.origins["four-fifths-selection-rate"].file.endswith("four_fifths.yaml")
    assert len(loaded.files) == 2


def test_extends_cannot_escape_policy_root(tmp_path):
    got = problems("version: 1\nname: t\nextends: [../../etc/passwd]\nrules:\n" + GOOD_RULE, tmp_path)
    assert any("p.yaml:3:11: pack '../../etc/passwd' not found" in g for g in got)


def test_error_in_pack_is_located_in_the_pack(tmp_path):
    (tmp_path / "pack.yaml").write_text("version: 1\nname: pack\nrules:\n  - id: p\n    kind: representation\n"
                                        "    feature: sex\n    min_shaer: 0.3\n")
    got = problems("version: 1\nname: t\nextends: [pack.yaml]\nrules:\n" + GOOD_RULE, tmp_path)
    assert any("pack.yaml:7:5: unknown key 'min_shaer'" in g for g in got)


def test_waiver_for_unknown_rule_is_an_error(tmp_path):
    got = problems("version: 1\nname: t\nrules:\n" + GOOD_RULE +
                   "waivers:\n  - rule: r2\n    reason: known\n    approved_by: a\n    expires: 2030-01-01\n", tmp_path)
    assert any("waiver names unknown rule 'r2'" in g for g in got)


def test_policy_text_api():
    loaded = load_policy_text("version: 1\nname: t\nrules:\n" + GOOD_RULE)
    assert loaded.rules[0].feature == "sex"


def test_shipped_policies_lint_clean(capsys):
    files = sorted(str(p) for p in (REPO / "policies").rglob("*.yaml"))
    assert main(["lint", *files]) == 0


def test_shipped_schema_is_current(capsys):
    """docs/policy.schema.json is generated from the pydantic models: regenerate with
    `rai-policy schema > docs/policy.schema.json`."""
    from rai_policy.policy.schema import schema_text

    assert (REPO / "docs" / "policy.schema.json").read_text() == schema_text()


def test_schema_command_prints_json(capsys):
    assert main(["schema"]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert "rules" in doc["properties"]


def test_lint_exit_codes(tmp_path, capsys):
    bad = tmp_path / "bad.yaml"
    bad.write_text("version: 1\nname: t\nrules:\n  - id: a\n    kind: nope\n")
    assert main(["lint", str(bad)]) == 2
    assert f"{bad}:5:11: unknown rule kind 'nope'" in capsys.readouterr().out
