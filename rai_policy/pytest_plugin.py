"""pytest plugin: policy files become test items, one per rule (opt-in).

Enable with ``--rai-policy`` or the ini option ``rai_policy = true``.  Then every file matching
``--rai-policy-glob`` (default ``rai_*.yaml``), and any ``.yaml``/``.yml`` named on the command
line, is collected as a `PolicyFile` with one `RuleItem` per rule (``policy.yaml::rule-id``),
marked ``rai_policy`` and ``rai_<severity>`` (``-m rai_error`` selects the blocking rules).  A policy
that does not load becomes one failing ``<load>`` item listing every located problem.

The subject is the policy's ``subject:`` block, overridden by the ini options (``rai_data``,
``rai_label``, ``rai_prediction``, ``rai_model``, ``rai_model_card``, ``rai_training``; paths
relative to the ini file), overridden by the command line (``--rai-data`` … relative to the working
directory).

Evidence is gathered once per policy: the first item of a policy that runs checks the whole policy
(one `run_check`, every TF tool at most once) and caches the report in ``config.stash``; the other
items read their rule's result.  Under pytest-xdist the cache is per process: each worker that runs
a rule of a policy checks that policy once (``--dist loadfile`` keeps a policy on one worker).

Outcomes: pass → passed; fail / error → failed with the finding (no traceback); not_evaluable →
failed, or skipped under ``--rai-not-evaluable=skip``; warn → passed with a `RaiPolicyWarning`;
waived → skipped with the waiver's reason, approver and expiry.

The `rai_check` fixture (always registered) returns `rai_policy.testing.check`.  Until enabled the
plugin only registers options, markers and that fixture: nothing heavy is imported.
"""
from __future__ import annotations

import fnmatch
import sys
import traceback
import warnings
from dataclasses import dataclass
from pathlib import Path

import pytest

ENGINES = ("auto", "local", "tfma")
NOT_EVALUABLE_MODES = ("fail", "skip")
SUBJECT_KEYS = ("label", "prediction", "model", "model_card", "training")
PATH_KEYS = ("model", "model_card", "training")
DEFAULT_GLOB = "rai_*.yaml"
LOAD_ITEM = "<load>"
SEVERITIES = ("error", "warning", "info")


@dataclass(frozen=True)
class Settings:
    data: tuple[str, ...] | None
    subject: dict
    engine: str
    globs: tuple[str, ...]
    not_evaluable: str


SETTINGS = pytest.StashKey[Settings]()
CACHE = pytest.StashKey[dict]()


def pytest_addoption(parser):
    group = parser.getgroup("rai-policy", "Responsible-AI policy checks (rai_policy)")
    group.addoption("--rai-policy", action="store_true", default=False,
                    help="collect rai-policy policy files as tests (ini: rai_policy = true)")
    group.addoption("--rai-data", action="append", default=None, metavar="PATH",
                    help="evaluation data for every policy (repeatable; overrides ini rai_data and `subject: data`)")
    for key in SUBJECT_KEYS:
        group.addoption(f"--rai-{key.replace('_', '-')}", default=None, metavar="PATH" if key in PATH_KEYS else "COLUMN",
                        help=f"subject {key} (overrides ini rai_{key} and the policy's `subject: {key}`)")
    group.addoption("--rai-engine", choices=ENGINES, default=None, help="slice metrics engine (default auto)")
    group.addoption("--rai-policy-glob", action="append", default=None, metavar="GLOB",
                    help=f"policy files to collect (repeatable; default {DEFAULT_GLOB})")
    group.addoption("--rai-not-evaluable", choices=NOT_EVALUABLE_MODES, default=None,
                    help="a rule that cannot be evaluated fails (default) or is skipped")
    parser.addini("rai_policy", "collect rai-policy policy files as tests", type="bool", default=False)
    parser.addini("rai_data", "evaluation data paths (relative to the ini file)", type="linelist", default=[])
    for key in SUBJECT_KEYS:
        parser.addini(f"rai_{key}", f"subject {key}", default="")
    parser.addini("rai_engine", "slice metrics engine: auto | local | tfma", default="auto")
    parser.addini("rai_policy_glob", f"policy file globs (default {DEFAULT_GLOB})", type="args", default=[DEFAULT_GLOB])
    parser.addini("rai_not_evaluable", "fail | skip", default="fail")


def _enabled(config) -> bool:
    return bool(config.getoption("rai_policy") or config.getini("rai_policy"))


def _settings(config) -> Settings:
    here = Path(config.invocation_params.dir)
    ini_dir = Path(config.inipath).parent if config.inipath else Path(config.rootpath)

    def pick(key: str):
        cli = config.getoption(f"rai_{key}")
        if cli:
            return str(here / cli) if key in PATH_KEYS else cli
        ini = config.getini(f"rai_{key}")
        if ini:
            return str(ini_dir / ini) if key in PATH_KEYS else ini
        return None

    cli_data, ini_data = config.getoption("rai_data"), config.getini("rai_data")
    data = (tuple(str(here / p) for p in cli_data) if cli_data
            else tuple(str(ini_dir / p) for p in ini_data) if ini_data else None)
    engine = config.getoption("rai_engine") or config.getini("rai_engine") or "auto"
    mode = config.getoption("rai_not_evaluable") or config.getini("rai_not_evaluable") or "fail"
    if engine not in ENGINES:
        raise pytest.UsageError(f"rai_engine must be one of {', '.join(ENGINES)}, not {engine!r}")
    if mode not in NOT_EVALUABLE_MODES:
        raise pytest.UsageError(f"rai_not_evaluable must be fail or skip, not {mode!r}")
    globs = tuple(config.getoption("rai_policy_glob") or config.getini("rai_policy_glob") or [DEFAULT_GLOB])
    return Settings(data, {k: pick(k) for k in SUBJECT_KEYS}, engine, globs, mode)


def pytest_configure(config):
    config.addinivalue_line("markers", "rai_policy: a rule of a rai-policy policy file")
    for sev in SEVERITIES:
        config.addinivalue_line("markers", f"rai_{sev}: a rai-policy rule of severity {sev}")
    if _enabled(config):
        config.stash[SETTINGS] = _settings(config)
        config.stash[CACHE] = {}


def pytest_report_header(config):
    s = config.stash.get(SETTINGS, None)
    if s is None:
        return None
    return f"rai-policy: engine {s.engine}, policies {' '.join(s.globs)}, not-evaluable {s.not_evaluable}"


def _matches(path: Path, globs) -> bool:
    return any(path.match(g) if "/" in g else fnmatch.fnmatch(path.name, g) for g in globs)


def pytest_collect_file(file_path: Path, parent):
    settings = parent.config.stash.get(SETTINGS, None)
    if settings is None or file_path.suffix not in (".yaml", ".yml"):
        return None
    if parent.session.isinitpath(file_path) or _matches(file_path, settings.globs):
        return PolicyFile.from_parent(parent, path=file_path)
    return None


@pytest.fixture
def rai_check():
    """`rai_policy.testing.check`: evaluate a policy (path, dict or YAML string) and get a `Result`."""
    from rai_policy.testing import check

    return check


def pytest_assertrepr_compare(config, op, left, right):
    """Explain a failed ``result == "pass"`` (verdict comparison) with the failing rules."""
    testing = sys.modules.get("rai_policy.testing")
    if testing is None or op != "==":
        return None
    for res, other in ((left, right), (right, left)):
        if isinstance(res, testing.Result) and isinstance(other, str):
            return [f"rai-policy verdict {res.status!r} == {other!r}", *res.summary_lines(),
                    "(rai_policy.testing.assert_policy(result) shows every finding in full)"]
    return None


class _Text:
    """A failure shown as plain text, with a one-line summary for pytest's short test summary."""

    def __init__(self, text: str, summary: str):
        self.text = text
        self.reprcrash = _Crash(summary)

    def toterminal(self, tw) -> None:
        for line in self.text.splitlines():
            tw.line(line)

    def __str__(self) -> str:
        return self.text


@dataclass
class _Crash:
    message: str


class RuleFailed(Exception):
    """A rule's outcome fails its item (carries the RuleResult)."""


class PolicyUnusable(Exception):
    """The policy could not be loaded or checked: the message says why."""


def _shown(path: Path, config) -> str:
    here = Path(config.invocation_params.dir)
    return str(path.relative_to(here)) if path.is_relative_to(here) else str(path)


class PolicyFile(pytest.File):
    """A policy YAML file: one item per rule, or one `<load>` item when it does not load."""

    loaded = None

    def collect(self):
        from rai_policy.errors import PolicyError
        from rai_policy.policy.loader import load_policy

        try:
            self.loaded = load_policy(_shown(self.path, self.config))
        except PolicyError as exc:
            yield PolicyLoadItem.from_parent(self, name=LOAD_ITEM, problems=tuple(exc.problems))
            return
        for spec in self.loaded.rules:
            item = RuleItem.from_parent(self, name=spec.id, spec=spec, origin=self.loaded.origins.get(spec.id))
            item.add_marker("rai_policy")
            item.add_marker(f"rai_{spec.severity}")
            yield item

    def outcome(self):
        """The policy's Report, or a PolicyUnusable: checked on first use, then cached per session."""
        cache = self.config.stash[CACHE]
        key = str(self.path)
        if key not in cache:
            cache[key] = self._check()
        return cache[key]

    def _check(self):
        from rai_policy.engine import CheckOptions, run_check
        from rai_policy.errors import RaiPolicyError
        from rai_policy.subject import resolve

        s = self.config.stash[SETTINGS]
        shown = _shown(self.path, self.config)
        try:
            subject = resolve(self.loaded.model.subject, self.path.parent, data=s.data, **s.subject)
            return run_check(self.loaded, subject, CheckOptions(engine=s.engine, argv=["pytest", "--rai-policy", shown]))
        except RaiPolicyError as exc:
            return PolicyUnusable(f"{shown}: {exc}")
        except Exception as exc:  # noqa: BLE001 - a crash fails every item of the policy, once each
            return PolicyUnusable(f"{shown}: the check crashed: {type(exc).__name__}: {exc}\n\n{traceback.format_exc()}")


class RuleItem(pytest.Item):
    """One rule of a policy; its outcome comes from the policy's cached report."""

    def __init__(self, *, spec, origin, **kwargs):
        super().__init__(**kwargs)
        self.spec, self.origin = spec, origin

    def runtest(self):
        outcome = self.parent.outcome()
        if isinstance(outcome, PolicyUnusable):
            raise outcome
        rule = next(r for r in outcome.rules if r.id == self.name)
        if rule.status == "pass":
            return
        from rai_policy.testing import RaiPolicyWarning, waiver_text

        if rule.status == "waived":
            _skip(waiver_text(rule.waiver))
        if rule.status == "warn":
            file, line = (self.origin.file, self.origin.line or 1) if self.origin else (str(self.path), 1)
            warnings.warn_explicit(RaiPolicyWarning(f"{rule.id} ({rule.kind}, severity {rule.severity}): {rule.message}"),
                                   RaiPolicyWarning, file, line)
            return
        if rule.status == "not_evaluable" and self.config.stash[SETTINGS].not_evaluable == "skip":
            _skip(f"not evaluable: {rule.message}")
        raise RuleFailed(rule)

    def repr_failure(self, excinfo, style=None):
        if isinstance(excinfo.value, RuleFailed):
            from rai_policy.testing import describe_rule

            rule = excinfo.value.args[0]
            return _Text("\n".join(describe_rule(rule, self.spec)), f"{rule.status}: {rule.message}")
        if isinstance(excinfo.value, (PolicyUnusable, Warning)):  # Warning: a `warn` under -W error
            text = f"{type(excinfo.value).__name__}: {excinfo.value}" if isinstance(excinfo.value, Warning) else str(excinfo.value)
            return _Text(text, text.splitlines()[0])
        return super().repr_failure(excinfo, style=style)

    def reportinfo(self):
        line = self.origin.line - 1 if self.origin and self.origin.line else 0
        path = Path(self.config.invocation_params.dir) / self.origin.file if self.origin else self.path
        return path, line, f"{self.spec.kind} {self.name}"


class PolicyLoadItem(pytest.Item):
    """Stands for a policy that does not load, so that it fails instead of collecting nothing."""

    def __init__(self, *, problems, **kwargs):
        super().__init__(**kwargs)
        self.problems = problems
        self.add_marker("rai_policy")
        self.add_marker("rai_error")

    def runtest(self):
        raise PolicyUnusable("\n".join(str(p) for p in self.problems))

    def repr_failure(self, excinfo, style=None):
        if isinstance(excinfo.value, PolicyUnusable):
            n = len(self.problems)
            return _Text(f"policy could not be loaded ({n} problem{'s' * (n != 1)}):\n{excinfo.value}",
                         str(self.problems[0]) if self.problems else "policy could not be loaded")
        return super().repr_failure(excinfo, style=style)

    def reportinfo(self):
        first = self.problems[0] if self.problems else None
        line = first.line - 1 if first is not None and first.line else 0
        return self.path, line, f"rai-policy load {self.path.name}"


def _skip(reason: str):
    """Skip reported at the rule's location in the policy, not at this module's line."""
    try:
        exc = pytest.skip.Exception(reason, _use_item_location=True)
    except TypeError:  # pragma: no cover - older pytest
        pytest.skip(reason)
    raise exc
