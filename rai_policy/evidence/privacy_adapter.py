"""DP-SGD privacy evidence: ε of a training record, computed with ``dp_accounting``.

``dp_accounting`` is TF Privacy's accounting library (TF Privacy depends on it and its
``compute_dp_sgd_privacy_lib`` calls it); using it directly avoids importing TensorFlow.

What is computed
    The training run is modelled the way TF Privacy's
    ``compute_dp_sgd_privacy_lib._compute_dp_sgd_example_privacy`` models it: ``steps``
    self-compositions of ``PoissonSampledDpEvent(q, GaussianDpEvent(σ_eff))`` with
    ``q = batch_size / examples``.  The guarantee is example-level, add-or-remove-one adjacency,
    and covers every checkpoint, not only the final model.

Accountant (always named by the caller, never chosen here)
    ``rdp``  ``dp_accounting.rdp.RdpAccountant()`` with its default orders, which is exactly what
             TF Privacy's ``compute_dp_sgd_privacy_statement`` uses; ε from the current
             RDP→(ε, δ) conversion (``get_epsilon_and_optimal_order``), which is tighter than the
             classic ``min_α RDP(α) + ln(1/δ)/(α−1)`` behind older published figures.  The optimal
             order is reported.  (The deprecated ``compute_dp_sgd_privacy`` used a coarser order
             list; it can give a slightly larger ε.)
    ``pld``  ``dp_accounting.pld.PLDAccountant()`` (privacy-loss distributions, default
             discretisation 1e-4, pessimistic rounding): tighter than RDP for composed Gaussians.

Step convention
    * ``steps`` in the record (the actual count from training logs) is used as is, and wins over
      ``epochs`` when both are given.  When they disagree, ``steps_source`` says what ``epochs``
      would give and the finding's message shows it (`steps_phrase`), not only a note.
    * ``sampling: poisson`` → ``ceil(epochs * examples / batch_size)``: TF Privacy's convention
      (n / b expected batches per epoch; there is no partial last batch under Poisson sampling).
    * ``sampling: shuffle`` → ``epochs * ceil(examples / batch_size)``: the batches actually run,
      the last one of each epoch partial (field case B12: n=1000, b=300, 3 epochs → 12 steps, not
      10).  A fractional epoch count is rounded up: ``ceil(epochs * ceil(examples / batch_size))``.
    ``epochs`` is read as the decimal number written (``Fraction(repr(epochs))``), so the product
    is exact and ``ceil`` never rounds a float error up to one more step.

``sampling`` has no default: a record must say how its batches were drawn, because the shuffle
caveat below must never be hidden behind an assumed ``poisson``.

Shuffled fixed-size batches have no proven amplification analysis here: ε is computed as if the
batches were Poisson-sampled and the result's notes say so.

Microbatching (TF Privacy's convention, ``_compute_dp_sgd_example_privacy``): with microbatches of
more than one example, sensitivity doubles under add-or-remove-one adjacency, so the noise
multiplier is halved before accounting.

``q == 1`` (every example in every batch): no subsampling amplification; the steps are plain
Gaussian mechanisms.  ``q > 1`` is an input error.
"""
from __future__ import annotations

import math
import re
from fractions import Fraction
from pathlib import Path
from typing import Literal

import pydantic
import yaml
from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from rai_policy.errors import InputError
from rai_policy.evidence.types import PrivacyResult

ACCOUNTANTS = ("rdp", "pld")

SAMPLING_REQUIRED = (
    "say how batches were drawn: sampling: poisson (each example independently with probability "
    "batch_size/examples, as DP-SGD's analysis assumes) or shuffle (fixed-size batches of a shuffled epoch)"
)
STEPS_FROM_RECORD = "steps from the training record (training logs)"
_DISAGREE = re.compile(r"; epochs (\S+) would give (\d+) steps")

_SHUFFLE_NOTE = (
    "assumes Poisson sampling; the model was trained with shuffled fixed-size batches, "
    "for which this is not a proven guarantee"
)


class TrainingRecord(BaseModel):
    """How a DP-SGD model was trained: what ε is computed from."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    examples: int = Field(gt=0, description="number of training examples (n)")
    batch_size: int = Field(gt=0, description="examples per batch (expected size under Poisson)")
    epochs: float | None = Field(default=None, gt=0, allow_inf_nan=False)
    steps: int | None = Field(default=None, gt=0, description="actual steps from training logs")
    noise_multiplier: float = Field(gt=0, allow_inf_nan=False)
    sampling: Literal["poisson", "shuffle"] = Field(description=SAMPLING_REQUIRED)  # required: no default
    microbatching: bool = False

    @field_validator("sampling", mode="before")
    @classmethod
    def _sampling_known(cls, v):
        if v not in ("poisson", "shuffle"):
            raise ValueError(f"{'empty' if v is None else f'unknown value {v!r}'}; {SAMPLING_REQUIRED}")
        return v

    @field_validator("examples", "batch_size", "epochs", "steps", "noise_multiplier", mode="before")
    @classmethod
    def _not_bool(cls, v):
        if isinstance(v, bool):  # pydantic would read true/false as 1/0
            raise ValueError("must be a number, not true/false")
        return v

    @model_validator(mode="after")
    def _consistent(self) -> "TrainingRecord":
        if self.epochs is None and self.steps is None:
            raise ValueError(
                "give epochs or steps (steps: the actual count from training logs); neither is set"
            )
        if self.batch_size > self.examples:
            q = self.batch_size / self.examples
            raise ValueError(
                f"sampling rate q = {q:.4g} > 1; batch_size exceeds examples "
                f"(batch_size {self.batch_size}, examples {self.examples})"
            )
        return self

    @property
    def sampling_rate(self) -> float:
        return self.batch_size / self.examples


def load_training_record(path: str | Path) -> TrainingRecord:
    """Read a training record from a YAML or JSON file; any problem is an InputError."""
    p = Path(path)
    try:
        text = p.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise InputError(f"training record {p}: file not found") from None
    except (OSError, UnicodeDecodeError) as e:
        raise InputError(f"training record {p}: cannot read ({e})") from None
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as e:
        raise InputError(f"training record {p}: not valid YAML/JSON ({e})") from None
    if not isinstance(data, dict):
        raise InputError(
            f"training record {p}: expected a mapping of fields "
            f"(examples, batch_size, epochs or steps, noise_multiplier, sampling), got {type(data).__name__}"
        )
    try:
        return TrainingRecord.model_validate(data)
    except pydantic.ValidationError as e:
        raise InputError(f"training record {p}: {describe_validation_error(e)}") from None


def describe_validation_error(e: pydantic.ValidationError) -> str:
    """One line per problem: ``field: message`` (model-level problems without a field)."""
    parts = []
    for err in e.errors():
        msg = err["msg"].removeprefix("Value error, ")
        loc = ".".join(str(x) for x in err["loc"])
        if err["type"] == "missing" and loc == "sampling":
            msg = f"missing; {SAMPLING_REQUIRED}"
        parts.append(f"{loc}: {msg}" if loc else msg)
    return "; ".join(parts)


def resolve_steps(record: TrainingRecord) -> tuple[int, str, tuple[str, ...]]:
    """The number of DP-SGD steps, how it was obtained, and notes (see the module docstring)."""
    notes: list[str] = []
    n, b = record.examples, record.batch_size
    from_epochs: tuple[int, str] | None = None
    if record.epochs is not None:
        epochs = Fraction(repr(record.epochs))
        if record.sampling == "poisson":
            count = math.ceil(epochs * n / b)
            how = f"ceil(epochs * examples / batch_size) = ceil({record.epochs:g} * {n} / {b})"
        else:
            per_epoch = math.ceil(Fraction(n, b))
            count = math.ceil(epochs * per_epoch)
            how = (
                f"epochs * ceil(examples / batch_size) = {record.epochs:g} * ceil({n} / {b})"
                f" = {record.epochs:g} * {per_epoch}"
            )
        from_epochs = (count, how)
    if record.steps is not None:
        source = STEPS_FROM_RECORD
        if from_epochs is not None and from_epochs[0] != record.steps:
            source += f"; epochs {record.epochs:g} would give {from_epochs[0]} steps by {from_epochs[1]}"
            notes.append(
                f"steps {record.steps} from the training record used; epochs {record.epochs:g} "
                f"ignored (it would give {from_epochs[0]} steps by {from_epochs[1]})"
            )
        return record.steps, source, tuple(notes)
    assert from_epochs is not None  # the model validator guarantees epochs or steps
    return from_epochs[0], from_epochs[1], tuple(notes)


def steps_phrase(result: PrivacyResult) -> str:
    """How a finding states the step count: '200 steps', or, when the record's `steps` and
    `epochs` disagree (steps win), '5 steps from the record; epochs 10 would give 200'."""
    source = result.steps_source or ""
    m = _DISAGREE.match(source[len(STEPS_FROM_RECORD):]) if source.startswith(STEPS_FROM_RECORD) else None
    return f"{result.steps} steps" + (f" from the record; epochs {m[1]} would give {m[2]}" if m else "")


def compute_privacy(record: TrainingRecord, accountant: str, delta: float) -> PrivacyResult:
    """ε of `record` at `delta` with the named accountant ('rdp' or 'pld')."""
    import dp_accounting  # light: numpy/scipy only, no TensorFlow

    if accountant not in ACCOUNTANTS:
        raise InputError(f"unknown accountant {accountant!r}; name one of: {', '.join(ACCOUNTANTS)}")
    if not (isinstance(delta, (int, float)) and 0 < delta < 1):
        raise InputError(f"delta must be a number strictly between 0 and 1, got {delta!r}")

    steps, steps_source, notes_list = resolve_steps(record)
    notes = list(notes_list)
    q = record.sampling_rate
    sigma = record.noise_multiplier
    if record.microbatching:
        sigma = sigma / 2
        notes.append(
            f"microbatching: sensitivity doubles (add-or-remove-one adjacency), so the noise "
            f"multiplier is halved, {record.noise_multiplier:g} -> {sigma:g} (TF Privacy's "
            f"convention; it applies to microbatches of more than one example)"
        )

    step_event = dp_accounting.GaussianDpEvent(sigma)
    if record.batch_size == record.examples:
        notes.append(
            "sampling rate q = 1: every example is in every batch, so there is no subsampling "
            "amplification; each step is counted as a full Gaussian mechanism"
        )
    else:
        step_event = dp_accounting.PoissonSampledDpEvent(sampling_probability=q, event=step_event)
    event = dp_accounting.SelfComposedDpEvent(event=step_event, count=steps)
    if record.sampling == "shuffle":
        notes.append(_SHUFFLE_NOTE)

    order: float | None = None
    if accountant == "rdp":
        acc = dp_accounting.rdp.RdpAccountant()  # default orders, as TF Privacy's statement
        acc.compose(event)
        eps, order = acc.get_epsilon_and_optimal_order(delta)
        order = float(order)
        notes.append(
            "accountant rdp: dp_accounting RdpAccountant, default orders, current RDP-to-(eps, delta) "
            "conversion (tighter than the classic conversion behind older published figures)"
        )
    else:
        acc = dp_accounting.pld.PLDAccountant()
        acc.compose(event)
        eps = acc.get_epsilon(delta)
        notes.append(
            "accountant pld: dp_accounting PLDAccountant (privacy loss distributions, "
            "discretisation 1e-4, pessimistic)"
        )
    notes.append(
        "example-level DP, add-or-remove-one adjacency; covers all checkpoints, not only the final model"
    )
    return PrivacyResult(
        accountant=accountant,
        delta=float(delta),
        epsilon=float(eps),
        sampling=record.sampling,
        steps=int(steps),
        steps_source=steps_source,
        sampling_rate=q,
        noise_multiplier=record.noise_multiplier,
        effective_noise_multiplier=sigma,
        optimal_order=order,
        notes=tuple(notes),
    )

