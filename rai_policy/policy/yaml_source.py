"""Safe YAML reading that remembers where every key and value stands.

Only PyYAML's SafeLoader composer is used (no Python object tags), and the node tree is walked by
hand so that duplicate keys, alias bombs, excessive nesting and non-UTF-8 bytes become located
`Problem`s instead of tracebacks or hangs.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import yaml

from rai_policy.errors import PolicyError, Problem

MAX_NODES = 20_000  # a policy is small; alias expansion beyond this is an attack or a mistake
MAX_DEPTH = 40
MAX_BYTES = 2_000_000

SAFE_COLLECTION_TAGS = ("tag:yaml.org,2002:map", "tag:yaml.org,2002:seq")
Path = tuple  # a YAML path: ("rules", 0, "max_gap")


@dataclass
class Located:
    """Parsed data plus positions: `values[path]` is where the value starts, `keys[path]` where
    its key stands (1-based line and column)."""

    data: object
    file: str
    values: dict = field(default_factory=dict)
    keys: dict = field(default_factory=dict)

    def where(self, path: tuple, *, key: bool = False) -> tuple[int | None, int | None]:
        table = self.keys if key else self.values
        p = tuple(path)
        while p:
            if p in table:
                return table[p]
            if not key and p in self.keys:
                return self.keys[p]
            p = p[:-1]
            table = self.values
        return self.values.get((), (1, 1))

    def problem(self, path: tuple, message: str, *, key: bool = False) -> Problem:
        line, col = self.where(path, key=key)
        return Problem(self.file, line, col, format_path(path), message)


def format_path(path) -> str:
    out = ""
    for part in path:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out


def _short(value, most: int = 40) -> str:
    value = str(value)
    return value if len(value) <= most else value[:most] + "…"


def _pos(node) -> tuple[int, int]:
    return node.start_mark.line + 1, node.start_mark.column + 1


class _Walker:
    def __init__(self, file: str):
        self.file = file
        self.located = Located(None, file)
        self.problems: list[Problem] = []
        self.count = 0
        self.constructor = yaml.SafeLoader("")  # only for scalar construction

    def fail(self, node, path, message):
        line, col = _pos(node)
        self.problems.append(Problem(self.file, line, col, format_path(path), message))

    def walk(self, node, path: tuple, depth: int):
        self.count += 1
        if self.count > MAX_NODES:
            raise _TooBig(node)
        if depth > MAX_DEPTH:
            raise _TooDeep(node)
        self.located.values[path] = _pos(node)
        if isinstance(node, (yaml.MappingNode, yaml.SequenceNode)) and node.tag not in SAFE_COLLECTION_TAGS:
            self.fail(node, path, f"cannot read value: tag {node.tag!r} is not allowed (safe YAML only)")
            return None
        if isinstance(node, yaml.MappingNode):
            out: dict = {}
            for key_node, value_node in node.value:
                if not isinstance(key_node, yaml.ScalarNode):
                    self.fail(key_node, path, "a key must be a plain string")
                    continue
                if key_node.tag == "tag:yaml.org,2002:merge":
                    self.fail(key_node, path, "YAML merge keys (<<) are not supported in policies")
                    continue
                key = key_node.value
                if key in out:
                    first = self.located.keys.get(path + (key,), (None, None))
                    self.fail(key_node, path + (key,), f"duplicate key '{key}' (first defined at line {first[0]})")
                    continue
                self.located.keys[path + (key,)] = _pos(key_node)
                out[key] = self.walk(value_node, path + (key,), depth + 1)
            return out
        if isinstance(node, yaml.SequenceNode):
            return [self.walk(item, path + (i,), depth + 1) for i, item in enumerate(node.value)]
        try:
            return self.constructor.construct_object(node, deep=True)
        except yaml.YAMLError as exc:
            problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
            self.fail(node, path, f"cannot read value: {problem}")
            return None
        except Exception as exc:  # noqa: BLE001 - a safe scalar constructor failing is a bad value, never a crash
            # e.g. `!!int abc`, `!!bool maybe`, a 5,000-digit integer (Python's int size limit),
            # `!!timestamp 2020-13-45`
            detail = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
            self.fail(node, path, f"cannot read value {_short(node.value)!r}: {detail}")
            return None


class _TooBig(Exception):
    def __init__(self, node):
        self.node = node


class _TooDeep(_TooBig):
    pass


def _line_col(text: str, pos: int) -> tuple[int, int]:
    pos = max(0, min(pos, len(text)))
    return text.count("\n", 0, pos) + 1, pos - (text.rfind("\n", 0, pos) + 1) + 1


def _syntax_problem(exc: yaml.YAMLError, text: str, file: str) -> Problem:
    """A located problem for any PyYAML error (marked errors, reader errors, anything else)."""
    if isinstance(exc, yaml.MarkedYAMLError):
        mark = exc.problem_mark or exc.context_mark
        line, col = (mark.line + 1, mark.column + 1) if mark else (1, 1)
        message = " ".join(x for x in (exc.context, exc.problem) if x) or "invalid YAML"
        return Problem(file, line, col, "", f"invalid YAML: {message}")
    if isinstance(exc, yaml.reader.ReaderError):
        line, col = _line_col(text, exc.position)
        what = f"character U+{exc.character:04X}" if isinstance(exc.character, int) else "byte"
        return Problem(file, line, col, "", f"invalid YAML: {what} is not allowed ({exc.reason})")
    return Problem(file, 1, 1, "", f"invalid YAML: {str(exc).splitlines()[0] if str(exc) else type(exc).__name__}")


def _check_depth(text: str, file: str) -> None:
    """Reject nesting deeper than MAX_DEPTH from the event stream (iterative: no recursion), so
    composing the node tree afterwards can never exhaust the stack."""
    depth = 0
    for event in yaml.parse(text, Loader=yaml.SafeLoader):
        if isinstance(event, (yaml.SequenceStartEvent, yaml.MappingStartEvent)):
            depth += 1
            if depth > MAX_DEPTH:
                line, col = _pos(event)
                raise PolicyError([Problem(file, line, col, "", f"nesting is deeper than {MAX_DEPTH} levels")])
        elif isinstance(event, (yaml.SequenceEndEvent, yaml.MappingEndEvent)):
            depth -= 1


def read_yaml(raw: bytes | str, file: str) -> Located:
    """Parse policy YAML into a `Located`; raise PolicyError with every problem found.

    Every problem carries a line (1-based) when the input has text: syntax errors at PyYAML's
    mark, unreadable characters at their position, NUL and non-UTF-8 bytes where they stand."""
    if isinstance(raw, bytes):
        if len(raw) > MAX_BYTES:
            raise PolicyError([Problem(file, 1, 1, "", f"file is {len(raw):,} bytes; a policy may be at most {MAX_BYTES:,}")])
        try:
            text = raw.decode("utf-8-sig")
        except UnicodeDecodeError as exc:
            line = raw[: exc.start].count(b"\n") + 1
            col = exc.start - (raw.rfind(b"\n", 0, exc.start) + 1) + 1
            raise PolicyError([Problem(file, line, col, "", f"not valid UTF-8 (byte 0x{raw[exc.start]:02x})")]) from None
    else:
        text = raw
        if len(text) > MAX_BYTES:
            raise PolicyError([Problem(file, 1, 1, "", f"the policy is {len(text):,} characters; at most {MAX_BYTES:,}")])
    if "\x00" in text:
        line, col = _line_col(text, text.index("\x00"))
        raise PolicyError([Problem(file, line, col, "", "the file contains a NUL character")])
    try:
        _check_depth(text, file)
        node = yaml.compose(text, Loader=yaml.SafeLoader)
    except yaml.YAMLError as exc:
        raise PolicyError([_syntax_problem(exc, text, file)]) from None
    except RecursionError:  # not expected after _check_depth; kept as a last line of defence
        raise PolicyError([Problem(file, 1, 1, "", f"nesting is deeper than {MAX_DEPTH} levels")]) from None
    if node is None:
        raise PolicyError([Problem(file, 1, 1, "", "the policy file is empty")])
    walker = _Walker(file)
    try:
        data = walker.walk(node, (), 0)
    except _TooDeep as exc:
        line, col = _pos(exc.node)
        raise PolicyError([Problem(file, line, col, "", f"nesting is deeper than {MAX_DEPTH} levels")]) from None
    except _TooBig as exc:
        line, col = _pos(exc.node)
        raise PolicyError([Problem(file, line, col, "", f"the document expands to more than {MAX_NODES:,} nodes (alias expansion?)")]) from None
    except RecursionError:
        raise PolicyError([Problem(file, 1, 1, "", f"nesting is deeper than {MAX_DEPTH} levels")]) from None
    if walker.problems:
        raise PolicyError(walker.problems)
    walker.located.data = data
    return walker.located
