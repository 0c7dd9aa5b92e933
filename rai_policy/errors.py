"""Errors and exit codes.

`PolicyError` is a bad policy (each problem located file:line:col); `InputError` is a bad input
(data, model, training record): both end the run with exit code 2 and one clear message, never a
traceback.  A rule that runs but cannot be judged is a NOT_EVALUABLE *finding*, not an exception.
"""
from __future__ import annotations

from dataclasses import dataclass
from enum import IntEnum


class ExitCode(IntEnum):
    """What `rai-policy check` returns."""

    OK = 0  # every blocking rule passed (warnings, waivers allowed)
    FAILED = 1  # at least one blocking rule failed
    INVALID = 2  # the policy or an input is invalid, or evidence broke (rule status `error`)
    NOT_EVALUABLE = 3  # no failure, but a blocking rule could not be evaluated


@dataclass(frozen=True)
class Problem:
    """One located problem in a policy file."""

    file: str
    line: int | None
    column: int | None
    path: str  # YAML path, e.g. rules[0].max_gap
    message: str

    def __str__(self) -> str:
        where = self.file
        if self.line is not None:
            where += f":{self.line}"
            if self.column is not None:
                where += f":{self.column}"
        at = f" ({self.path})" if self.path else ""
        return f"{where}: {self.message}{at}"


class RaiPolicyError(Exception):
    """Base of the errors that end a run with exit code 2."""

    exit_code = ExitCode.INVALID


class PolicyError(RaiPolicyError):
    """A policy that cannot be loaded: carries every problem found, each with its location."""

    def __init__(self, problems: list[Problem]):
        self.problems = list(problems)
        super().__init__("\n".join(str(p) for p in self.problems))


class InputError(RaiPolicyError):
    """A data, model, model-card or training-record input that cannot be used (message says why)."""
