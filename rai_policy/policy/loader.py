"""Load a policy file: YAML → packs merged (`extends`) → validated models, every problem located.

All problems are collected and raised together as one `PolicyError`; each carries file, line,
column and YAML path, and for a misspelled key, kind or metric the closest valid spelling.
"""
from __future__ import annotations

import difflib
from dataclasses import dataclass, field
from pathlib import Path

from pydantic import BaseModel, ValidationError

from rai_policy.errors import PolicyError, Problem
from rai_policy.resources import resource_dir
from rai_policy.policy.models import Subject, Waiver, Override, policy_model
from rai_policy.policy.yaml_source import Located, read_yaml
from rai_policy.rules.registry import rule_kinds

PACKS_DIR = resource_dir("policies")
MAX_EXTENDS_DEPTH = 5


@dataclass(frozen=True)
class Origin:
    file: str
    line: int | None
    column: int | None


@dataclass
class LoadedPolicy:
    """A validated policy and where each rule came from."""

    model: BaseModel
    path: str
    origins: dict[str, Origin] = field(default_factory=dict)  # rule id -> where it is defined
    files: list[str] = field(default_factory=list)  # the policy file and every pack it extends
    disabled: dict[str, str] = field(default_factory=dict)  # rule id -> reason

    @property
    def rules(self):
        return self.model.rules


def _close(word: str, options) -> str:
    match = difflib.get_close_matches(str(word), [str(o) for o in options], n=1, cutoff=0.5)
    return f"; did you mean '{match[0]}'?" if match else ""


def _fields_at(data: dict, loc: tuple) -> list[str]:
    """Valid keys of the model that stands at `loc` (for suggestions)."""
    if not loc:
        return list(policy_model().model_fields)
    head = loc[0]
    if head == "rules" and len(loc) >= 2:
        kind = _raw(data, loc[:2])
        given = kind.get("kind") if isinstance(kind, dict) else None
        cls = rule_kinds().get(given) if isinstance(given, str) else None
        return _spec_keys(cls.Spec) if cls else []
    if head == "subject":
        return list(Subject.model_fields)
    if head == "waivers":
        return list(Waiver.model_fields)
    if head == "overrides":
        return list(Override.model_fields)
    return []


def _spec_keys(model) -> list[str]:
    """The keys a policy writes for `model` (a field's alias where it has one, e.g. `class`)."""
    return [f.alias or name for name, f in model.model_fields.items()]


def _raw(data, loc):
    for part in loc:
        try:
            data = data[part]
        except (KeyError, IndexError, TypeError):
            return None
    return data


def _strip_tag(data, loc: tuple) -> tuple:
    """Drop the union tag pydantic puts after a rule index: ('rules', 0, 'slice_gap', 'x')."""
    if len(loc) >= 3 and loc[0] == "rules" and isinstance(loc[1], int):
        rule = _raw(data, loc[:2])
        if isinstance(rule, dict) and loc[2] == rule.get("kind"):
            return loc[:2] + loc[3:]
    return loc


def _problem(located: Located, data: dict, err: dict) -> Problem:
    loc = _strip_tag(data, tuple(err["loc"]))
    kind = err["type"]
    if kind == "extra_forbidden":
        key = loc[-1]
        return located.problem(loc, f"unknown key '{key}'{_close(key, _fields_at(data, loc[:-1]))}", key=True)
    if kind in ("union_tag_invalid", "union_tag_not_found"):
        kinds = sorted(rule_kinds())
        given = _raw(data, loc + ("kind",))
        if given is None:
            return located.problem(loc, f"rule has no `kind`; known kinds: {', '.join(kinds)}")
        return located.problem(loc + ("kind",), f"unknown rule kind '{given}'{_close(given, kinds)}; known kinds: {', '.join(kinds)}")
    if kind == "literal_error" and loc and loc[-1] == "metric":
        expected = err.get("ctx", {}).get("expected", "")
        options = [o.strip(" '") for o in expected.replace(" or ", ",").split(",") if o.strip(" '")]
        given = err.get("input")
        return located.problem(loc, f"unknown metric '{given}'{_close(given, options)}; metrics: {', '.join(options)}")
    if kind == "missing":
        return located.problem(loc[:-1], f"missing key '{loc[-1]}'")
    if kind == "too_short" and loc == ("rules",):
        return located.problem(loc, "a policy needs at least one rule (an empty rule list would pass silently)")
    msg = err["msg"]
    if msg.startswith("Value error, "):
        msg = msg[len("Value error, "):]
    return located.problem(loc, msg)


def _read(path: Path, shown: str) -> Located:
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        raise PolicyError([Problem(shown, None, None, "", "policy file not found")]) from None
    except IsADirectoryError:
        raise PolicyError([Problem(shown, None, None, "", "is a directory, not a policy file")]) from None
    except OSError as exc:
        raise PolicyError([Problem(shown, None, None, "", f"cannot read: {exc.strerror or exc}")]) from None
    except ValueError as exc:  # e.g. a NUL byte in the path
        raise PolicyError([Problem(shown, None, None, "", f"cannot read: {exc}")]) from None
    return read_yaml(raw, shown)


def _resolve_pack(ref: str, base_dir: Path) -> Path | None:
    """A pack path inside the policy's own directory tree, or a pack shipped in policies/.

    Paths are resolved (symlinks followed) before the containment check, so neither `..` nor a
    symlink can reach a file outside those two trees."""
    if not ref.strip() or "\x00" in ref or len(ref) > 1024:
        return None
    for root in (base_dir, PACKS_DIR):
        try:
            top = root.resolve()
            candidate = (root / ref).resolve()
            options = [candidate] + ([candidate.with_suffix(".yaml")] if candidate.name else [])
            for option in options:
                if option.is_relative_to(top) and option.is_file():
                    return option
        except (OSError, ValueError, RuntimeError):  # name too long, symlink loop, …
            continue
    return None


def _collect_rules(located: Located, path: Path, depth: int, seen: set, problems: list, files: list):
    """(rule dict, origin located, YAML path) for the packs' rules and then this file's own."""
    data = located.data
    out = []
    for i, ref in enumerate(data.get("extends") or []):
        if not isinstance(ref, str):
            problems.append(located.problem(("extends", i), "each `extends` entry is a path to a policy pack"))
            continue
        target = _resolve_pack(ref, path.parent)
        if target is None:
            problems.append(located.problem(("extends", i), f"pack '{ref}' not found inside {path.parent} "
                                            f"or the shipped packs ({PACKS_DIR}); paths may not leave those directories"))
            continue
        if target in seen or depth >= MAX_EXTENDS_DEPTH:
            problems.append(located.problem(("extends", i), f"pack '{ref}' extends itself (cycle) or nests too deep"))
            continue
        try:
            pack = _read(target, str(target))
        except PolicyError as exc:
            problems.extend(exc.problems)
            continue
        if not isinstance(pack.data, dict):
            problems.append(Problem(str(target), 1, 1, "", "a policy pack must be a mapping"))
            continue
        files.append(str(target))
        out.extend(_collect_rules(pack, target, depth + 1, seen | {target}, problems, files))
    for i, rule in enumerate(data.get("rules") or [] if isinstance(data.get("rules"), list) else []):
        out.append((rule, located, ("rules", i)))
    return out


def load_policy(path: str | Path) -> LoadedPolicy:
    """Load and validate a policy file; raise PolicyError listing every problem."""
    path = Path(path)
    located = _read(path, str(path))
    return _validate(located, path)


def load_policy_text(text: str, name: str = "<policy>", base_dir: Path | None = None) -> LoadedPolicy:
    """Load a policy from a YAML string (packs resolve against `base_dir`)."""
    located = read_yaml(text, name)
    return _validate(located, (base_dir or Path.cwd()) / name)


def _validate(located: Located, path: Path) -> LoadedPolicy:
    data = located.data
    if not isinstance(data, dict):
        raise PolicyError([located.problem((), "a policy must be a mapping with version, name and rules")])
    problems: list[Problem] = []
    files = [str(path)]
    if "rules" in data and not isinstance(data["rules"], list):
        problems.append(located.problem(("rules",), "`rules` must be a list of rules"))
    if "extends" in data and not isinstance(data["extends"], list):
        problems.append(located.problem(("extends",), "`extends` must be a list of pack paths"))
        data = {k: v for k, v in data.items() if k != "extends"}
        located = Located(data, located.file, located.values, located.keys)
    entries = _collect_rules(located, path, 0, {path.resolve()}, problems, files)
    entries, disabled = _apply_overrides(data, located, entries, problems)

    merged = dict(data)
    if "rules" in data or entries:
        merged["rules"] = [rule for rule, _, _ in entries]
    seen_ids: dict[str, tuple] = {}
    for rule, where, p in entries:
        rid = rule.get("id") if isinstance(rule, dict) else None
        if isinstance(rid, str):
            if rid in seen_ids:
                first = seen_ids[rid]
                line = first[0].where(first[1] + ("id",))[0]
                problems.append(where.problem(p + ("id",), f"duplicate rule id '{rid}' (first defined at {first[0].file}:{line})"))
            else:
                seen_ids[rid] = (where, p)
    model = None
    try:
        model = policy_model().model_validate(merged)
    except ValidationError as exc:
        for err in exc.errors():
            loc = tuple(err["loc"])
            if len(loc) >= 2 and loc[0] == "rules" and isinstance(loc[1], int) and loc[1] < len(entries):
                rule, where, p = entries[loc[1]]
                problems.append(_problem(_Shifted(where, loc[:2], p), {"rules": {loc[1]: rule}}, err))
            else:
                problems.append(_problem(located, data, err))
    known = set(seen_ids) | set(disabled)
    for i, waiver in enumerate(data.get("waivers") or [] if isinstance(data.get("waivers"), list) else []):
        rid = waiver.get("rule") if isinstance(waiver, dict) else None
        if isinstance(rid, str) and rid not in known:
            problems.append(located.problem(("waivers", i, "rule"),
                                            f"waiver names unknown rule '{rid}'{_close(rid, known)}"))
    if model is not None:
        problems.extend(_bind_classes(model, entries))
    if problems:
        raise PolicyError(_dedupe(problems))
    origins = {}
    for rule, where, p in entries:
        line, col = where.where(p)
        origins[rule["id"]] = Origin(where.file, line, col)
    return LoadedPolicy(model, str(path), origins, files, disabled)


def _bind_classes(model, entries) -> list[Problem]:
    """Resolve each slice rule's `class` (name or id) against `subject.classes` (B03/B10)."""
    classes = model.subject.classes
    problems = []
    for spec, (_, where, p) in zip(model.rules, entries):
        if not hasattr(spec, "bind_class"):
            continue
        if spec.class_ is None:
            if classes:
                problems.append(where.problem(p, "the subject is multiclass (classes: " + ", ".join(classes)
                                              + "): a slice rule needs `class:` naming the class it judges"))
            continue
        message = spec.bind_class(classes)
        if message:
            problems.append(where.problem(p + ("class",), message))
    return problems


class _Shifted:
    """A Located seen through a different rule index (rules merged from packs)."""

    def __init__(self, located: Located, merged_prefix: tuple, own_prefix: tuple):
        self.located, self.merged, self.own = located, merged_prefix, own_prefix

    def _map(self, path):
        path = tuple(path)
        if path[: len(self.merged)] == self.merged:
            return self.own + path[len(self.merged):]
        return path

    def problem(self, path, message, *, key=False):
        return self.located.problem(self._map(path), message, key=key)

    def where(self, path, *, key=False):
        return self.located.where(self._map(path), key=key)


def _apply_overrides(data, located, entries, problems):
    """Apply `overrides`: change keys of a pack rule by id, or disable it with a reason."""
    overrides = data.get("overrides") or []
    if not isinstance(overrides, list):
        problems.append(located.problem(("overrides",), "`overrides` must be a list"))
        return entries, {}
    by_id = {r["id"]: n for n, (r, _, _) in enumerate(entries) if isinstance(r, dict) and isinstance(r.get("id"), str)}
    disabled: dict[str, str] = {}
    out = list(entries)
    for i, ov in enumerate(overrides):
        if not isinstance(ov, dict) or not isinstance(ov.get("rule"), str):
            continue  # the model validation reports its shape
        rid = ov["rule"]
        if rid not in by_id:
            problems.append(located.problem(("overrides", i, "rule"), f"override names unknown rule '{rid}'{_close(rid, by_id)}"))
            continue
        n = by_id[rid]
        if ov.get("disable"):
            if not (isinstance(ov.get("reason"), str) and ov["reason"].strip()):
                problems.append(located.problem(("overrides", i), "disabling a rule needs a `reason`"))
            disabled[rid] = ov.get("reason") or ""
            out[n] = None
        elif isinstance(ov.get("set"), dict):
            if "id" in ov["set"] or "kind" in ov["set"]:
                problems.append(located.problem(("overrides", i, "set"), "an override may not change a rule's id or kind"))
                continue
            rule, where, p = out[n]
            out[n] = ({**rule, **ov["set"]}, where, p)
    return [e for e in out if e is not None], disabled


def _dedupe(problems: list[Problem]) -> list[Problem]:
    seen, out = set(), []
    for p in problems:
        key = (p.file, p.line, p.column, p.message)
        if key not in seen:
            seen.add(key)
            out.append(p)
    return sorted(out, key=lambda p: (p.file, p.line or 0, p.column or 0))
