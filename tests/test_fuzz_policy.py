"""Policy loader fuzzing: malformed and hostile policies either load or raise a located PolicyError.

Every generated input is written to a file and loaded with `load_policy`.  The outcome must be a
loaded policy or a `PolicyError` whose every problem names a file and has a message (and a line,
when the input is text with lines).  Any other exception, or a case slower than the per-example
deadline, fails the test.

The default run is seeded and small (500 policies over the five strategies, derandomized, plus
100 `rai-policy lint` runs); ``RAI_FUZZ_EXAMPLES=10000`` spreads 10,000 policies over the strategies
with a random seed (and 1,000 lint runs), and ``-s`` prints the timing summary.
"""
from __future__ import annotations

import copy
import os
import string
import time

import pytest
import yaml

hypothesis = pytest.importorskip("hypothesis")
from hypothesis import HealthCheck, given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

from rai_policy.cli import main  # noqa: E402
from rai_policy.errors import PolicyError  # noqa: E402
from rai_policy.policy.loader import load_policy  # noqa: E402

LONG_RUN = int(os.environ.get("RAI_FUZZ_EXAMPLES", "0"))
TOTAL = LONG_RUN or 500
STRATEGIES = 5
DEADLINE_MS = 5000  # per example; loads take milliseconds, the margin absorbs a busy machine
SLOWEST_MS = 2000  # the slowest load measured in a run must stay below this

SETTINGS = settings(
    max_examples=max(1, TOTAL // STRATEGIES),
    deadline=DEADLINE_MS,
    derandomize=not LONG_RUN,
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large, HealthCheck.filter_too_much,
                           HealthCheck.function_scoped_fixture],
)

# ---------------------------------------------------------------- valid policies to mutate

VALID = [
    {"version": 1, "name": "all-kinds", "description": "every kind",
     "subject": {"label": "y", "prediction": "score", "positive_label": "yes", "example_weight": "w"},
     "rules": [
         {"id": "gap", "kind": "slice_gap", "metric": "recall", "slice_by": ["race"], "groups": ["a", "b"],
          "max_gap": 0.1, "min_ratio": 0.8, "decision_threshold": 0.5, "min_slice_size": 5,
          "on_undefined": "skip", "on_missing": "exclude"},
         {"id": "floor", "kind": "slice_metric", "metric": "auc", "slice_by": ["race", "sex"], "min": 0.6,
          "max": 1.0, "severity": "warning"},
         {"id": "rep", "kind": "representation", "feature": "sex", "min_share": {"F": 0.3, "M": 0.3},
          "min_count": 10},
         {"id": "eps", "kind": "dp_budget", "max_epsilon": 3.0, "delta": 1e-5, "accountant": "pld"},
         {"id": "card", "kind": "model_card", "required": ["model_details.name", "considerations.limitations"]},
     ],
     "waivers": [{"rule": "gap", "slice": {"race": "a"}, "reason": "known issue", "approved_by": "x",
                  "expires": "2030-01-01"}]},
    {"version": 1, "name": "packs", "extends": ["packs/four_fifths.yaml"],
     "overrides": [{"rule": "four-fifths-selection-rate", "set": {"slice_by": ["race"]}},
                   {"rule": "group-representation", "disable": True, "reason": "elsewhere"}],
     "rules": [{"id": "r", "kind": "representation", "feature": "sex", "min_share": 0.2}]},
    {"version": 1, "name": "privacy", "subject": {"training": "t.json", "membership_data": "m.csv"},
     "rules": [{"id": "mia", "kind": "membership_inference", "max_attack_auc": 0.6, "max_advantage": 0.2,
                "attacks": ["threshold", "lr"]},
               {"id": "eps", "kind": "dp_budget", "max_epsilon": 1.0, "delta": 1e-6}]},
    {"version": 1, "name": "multiclass",
     "subject": {"label": "y", "classes": ["approved", "review", "denied"],
                 "prediction_columns": ["p_a", "p_r", "p_d"]},
     "rules": [{"id": "c", "kind": "slice_gap", "metric": "recall", "class": "approved", "slice_by": ["g"],
                "max_gap": 0.1},
               {"id": "d", "kind": "slice_metric", "metric": "auc", "class": 2, "slice_by": ["g"], "min": 0.5}]},
]

HOSTILE_SCALARS = [
    None, True, False, 0, -1, 1, 2, 10**30, -(10**30), 10**400, 1e308, -1e308, float("inf"), float("-inf"),
    float("nan"), 1e-320, "", " ", "\t", "x" * 5000, "../../etc/passwd", "/", "/etc/passwd", ".", "..",
    "\x00", "a\x00b", "ünïcödé / é", "<script>alert(1)</script>", "{{7*7}}", "${HOME}", "%s%n", "0x10",
    "1e5", "nan", ".inf", "yes", "no", "~", "null", "2030-13-45", "!!python/object:os.system",
    "A" * 300, "ruLes", "slice_gap", "recall", [], {}, [[[]]], {"a": {"b": {"c": {}}}},
]

scalars = st.one_of(st.sampled_from(HOSTILE_SCALARS), st.none(), st.booleans(),
                    st.integers(min_value=-(10**40), max_value=10**40),
                    st.floats(allow_nan=True, allow_infinity=True), st.text(max_size=40))
values = st.recursive(scalars, lambda inner: st.lists(inner, max_size=4)
                      | st.dictionaries(st.text(max_size=12) | st.sampled_from(["id", "kind", "rules", "metric"]),
                                        inner, max_size=4), max_leaves=12)


def _paths(doc, prefix=()):
    """Every (container path, key) in a nested document."""
    out = []
    if isinstance(doc, dict):
        for k, v in doc.items():
            out.append(prefix + (k,))
            out.extend(_paths(v, prefix + (k,)))
    elif isinstance(doc, list):
        for i, v in enumerate(doc):
            out.append(prefix + (i,))
            out.extend(_paths(v, prefix + (i,)))
    return out


def _get(doc, path):
    for p in path:
        doc = doc[p]
    return doc


@st.composite
def mutated_policies(draw):
    doc = copy.deepcopy(draw(st.sampled_from(VALID)))
    for _ in range(draw(st.integers(1, 2))):
        paths = _paths(doc)
        if not paths:
            break
        path = draw(st.sampled_from(paths))
        parent = _get(doc, path[:-1])
        op = draw(st.sampled_from(["replace", "delete", "add", "rename", "wrap", "duplicate"]))
        key = path[-1]
        if op == "replace":
            parent[key] = copy.deepcopy(draw(values))  # never mutate the shared samples
        elif op == "delete":
            del parent[key]
        elif op == "add" and isinstance(parent, dict):
            parent[draw(st.text(max_size=10) | st.sampled_from(["kind", "class", "classes", "extends", "id"]))] = copy.deepcopy(draw(values))
        elif op == "rename" and isinstance(parent, dict):
            parent[key + draw(st.sampled_from(["_", "s", "x", ""]))[:20] if isinstance(key, str) else key] = parent.pop(key)
        elif op == "wrap":
            parent[key] = [parent[key]] if draw(st.booleans()) else {"v": parent[key]}
        elif op == "duplicate" and isinstance(parent, list):
            parent.append(copy.deepcopy(parent[key]))
    text = yaml.safe_dump(doc, allow_unicode=True, sort_keys=False)
    return _text_mutation(draw, text) if draw(st.booleans()) else text


def _text_mutation(draw, text: str) -> str:
    lines = text.splitlines(keepends=True) or [""]
    for _ in range(draw(st.integers(1, 3))):
        i = draw(st.integers(0, max(0, len(lines) - 1)))
        op = draw(st.sampled_from(["dup_line", "del_line", "indent", "dedent", "insert", "truncate", "anchor"]))
        if op == "dup_line":
            lines.insert(i, lines[i])  # duplicate keys
        elif op == "del_line" and len(lines) > 1:
            del lines[i]
        elif op == "indent":
            lines[i] = "  " + lines[i]
        elif op == "dedent":
            lines[i] = lines[i].lstrip()
        elif op == "insert":
            lines.insert(i, draw(st.text(alphabet=string.printable, max_size=30)) + "\n")
        elif op == "truncate":
            lines[i] = lines[i][: draw(st.integers(0, len(lines[i])))]
        elif op == "anchor":
            lines[i] = lines[i].replace(": ", ": &a ", 1) + "x: *a\n"
    return "".join(lines)


def _alias_bomb(width: int, depth: int) -> str:
    out = ["a0: &a0 [x, y]"]
    for d in range(1, depth + 1):
        out.append(f"a{d}: &a{d} [" + ", ".join([f"*a{d - 1}"] * width) + "]")
    return "\n".join(out) + "\nversion: 1\nname: bomb\nrules: *a" + str(depth) + "\n"


TAGS = ["!!python/object/apply:os.system [ls]", "!!python/name:os.system", "!!python/object:object {}",
        "!!python/module:os", "!!binary aGVsbG8=", "!!set {a, b}", "!!omap [a: 1]", "!!timestamp 2020-13-45",
        "!!int abc", "!!float xyz", "!!bool maybe", "!custom x", "!!str", "!!map []", "!!seq {}", "!!null x"]

hostile_texts = st.one_of(
    st.builds(_alias_bomb, st.integers(2, 12), st.integers(1, 12)),
    st.builds(lambda d, c: c[0] * d + "x" + c[1] * d, st.integers(1, 3000), st.sampled_from([("[", "]"), ("{a: ", "}")])),
    st.builds(lambda d: "".join(f"{'  ' * i}k{i}:\n" for i in range(d)) + "  " * d + "v\n", st.integers(1, 300)),
    st.builds(lambda t, k: f"version: 1\nname: t\nrules:\n  - id: r\n    kind: slice_gap\n    {k}: {t}\n",
              st.sampled_from(TAGS), st.sampled_from(["metric", "max_gap", "slice_by", "groups", "id"])),
    st.builds(lambda t: f"version: 1\nname: {t}\nrules: []\n", st.sampled_from(TAGS)),
    st.builds(lambda n: f"version: 1\nname: t\nrules:\n  - id: r\n    kind: slice_gap\n    metric: recall\n"
                        f"    slice_by: [g]\n    max_gap: {n}\n    min_slice_size: {n}\n",
              st.sampled_from(["1" * 5000, "-" + "9" * 4400, "1e999", "-1e999", ".nan", ".inf", "-.inf", "0x" + "f" * 100,
                               "1_000", "0o777", "1:20:30", "1" * 4299, "10" * 2200])),
    st.builds(lambda ref: f"version: 1\nname: t\nextends: [{ref}]\nrules:\n  - id: r\n    kind: representation\n"
                          f"    feature: sex\n    min_share: 0.3\n",
              st.sampled_from(["../../etc/passwd", "/etc/passwd", "/", ".", "..", "''", '"\\0"', '"a\\0b"', "x" * 5000,
                               "~/x", "packs", "packs/", "packs/../../../etc/passwd", "'*'", "'packs/*.yaml'",
                               '"' + "../" * 50 + 'etc/passwd"', "[a]", "{a: b}", "1", "null", "p.yaml"])),
    st.sampled_from(["", " ", "\n\n", "---", "--- \n...", "~", "null", "[]", "{}", "0", "'x'", "- a\n- b",
                     "version: 1", "<<: {a: 1}", "version: 1\nname: t\n<<: {rules: []}\n", "%YAML 1.1\n---\na: 1",
                     "%TAG ! tag:x,2000:\n--- !x a", "\ufeffversion: 1\nname: t\n", "a: b\n---\nc: d\n",
                     "? [a, b]\n: c\n", "? {a: 1}\n: c\n", "&a a: *a", "a: &a [*a]", "a: &a {b: *a}\nversion: 1"]),
)


def _bytes_variants():
    valid = yaml.safe_dump(VALID[0]).encode()
    return st.one_of(
        st.binary(max_size=600),
        st.builds(lambda i, b: valid[:i] + b + valid[i:], st.integers(0, len(valid)), st.binary(min_size=1, max_size=4)),
        st.sampled_from([b"\xff\xfe", b"\xfe\xff\x00v", b"\x00", b"version: 1\x00", valid.decode().encode("utf-16"),
                         valid.decode().encode("utf-32"), b"\xef\xbb\xbf" + valid, b"\xc3\x28", b"\x80abc"]),
    )


# ---------------------------------------------------------------- the property


def check_outcome(path, raw: bytes) -> str:
    """Load `path`; return 'ok' or 'error'; fail on anything else."""
    try:
        load_policy(path)
        return "ok"
    except PolicyError as exc:
        assert exc.problems, "a PolicyError with no problem"
        try:
            text = raw.decode("utf-8-sig")
        except UnicodeDecodeError:
            text = None
        for p in exc.problems:
            assert isinstance(p.file, str) and p.file, p
            assert isinstance(p.message, str) and p.message.strip(), p
            if p.file == str(path) and text is not None and text.strip() and "\x00" not in text:
                assert p.line is not None and p.line >= 1, f"problem without a line: {p}"
                assert p.line <= text.count("\n") + 1 + 1, f"line beyond the input: {p}"
            str(p)  # renders
        return "error"


@pytest.fixture(scope="module")
def fuzz_dir(tmp_path_factory):
    d = tmp_path_factory.mktemp("fuzz")
    (d / "packs").mkdir()
    import shutil

    from tests.conftest import POLICIES

    shutil.copy(POLICIES / "packs" / "four_fifths.yaml", d / "packs" / "four_fifths.yaml")
    (d / "p.yaml").write_text("version: 1\nname: self\nextends: [p.yaml]\nrules: []\n")
    return d


STATS: dict[str, list] = {}


def _run(fuzz_dir, raw: bytes, label: str) -> None:
    path = fuzz_dir / "policy.yaml"
    path.write_bytes(raw)
    t = time.perf_counter()
    outcome = check_outcome(path, raw)
    STATS.setdefault(label, []).append((time.perf_counter() - t, outcome))


@SETTINGS
@given(text=mutated_policies())
def test_fuzz_mutated_valid_policies(fuzz_dir, text):
    _run(fuzz_dir, text.encode("utf-8", "surrogatepass"), "mutated")


@SETTINGS
@given(text=hostile_texts)
def test_fuzz_hostile_documents(fuzz_dir, text):
    _run(fuzz_dir, text.encode("utf-8", "surrogatepass"), "hostile")


@SETTINGS
@given(doc=values)
def test_fuzz_random_documents(fuzz_dir, doc):
    text = yaml.safe_dump(doc, allow_unicode=True)
    _run(fuzz_dir, text.encode("utf-8", "surrogatepass"), "random-doc")


@SETTINGS
@given(raw=_bytes_variants())
def test_fuzz_random_bytes(fuzz_dir, raw):
    _run(fuzz_dir, raw, "bytes")


@SETTINGS
@given(text=st.text(alphabet=st.characters(blacklist_categories=("Cs",)), max_size=400))
def test_fuzz_random_text(fuzz_dir, text):
    _run(fuzz_dir, text.encode("utf-8"), "text")


@settings(SETTINGS, max_examples=max(200, TOTAL // 10))
@given(text=st.one_of(mutated_policies(), hostile_texts))
def test_fuzz_lint_cli_never_tracebacks(fuzz_dir, text, capsys):
    path = fuzz_dir / "lint.yaml"
    path.write_bytes(text.encode("utf-8", "surrogatepass"))
    code = main(["lint", str(path)])
    out = capsys.readouterr()
    assert code in (0, 2)
    assert "Traceback" not in out.out + out.err
    if code == 2:  # problems are located in the file or in a pack it extends
        assert out.out.startswith("error: ") and str(fuzz_dir) in out.out


def test_fuzz_timing_summary():
    """Prints how long the fuzz cases took (visible with -s; the long run's figure for the docs)."""
    total = sum(len(v) for v in STATS.values())
    if not total:
        pytest.skip("run together with the fuzz tests")
    worst = max(t for v in STATS.values() for t, _ in v)
    spent = sum(t for v in STATS.values() for t, _ in v)
    parts = ", ".join(f"{k}: {len(v)} ({sum(1 for _, o in v if o == 'ok')} loaded)" for k, v in sorted(STATS.items()))
    print(f"\nfuzz: {total} policies in {spent:.1f} s of loading, slowest {worst * 1000:.0f} ms; {parts}")
    assert worst < SLOWEST_MS / 1000
