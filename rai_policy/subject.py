"""What a check looks at: the policy's `subject:` defaults with CLI flags (or API arguments) on top."""
from __future__ import annotations

from dataclasses import dataclass, fields, replace
from pathlib import Path

import pandas as pd

from rai_policy.errors import InputError


@dataclass(frozen=True)
class Subject:
    data: tuple[str, ...] = ()
    frame: pd.DataFrame | None = None  # in-memory data (Python API, pytest fixture)
    label: str | None = None
    prediction: str | None = None
    model: str | None = None
    signature: str | None = None
    model_card: str | None = None
    training: str | None = None
    membership_data: str | None = None  # member / non-member losses (CSV or .npz: loss, member)
    example_weight: str | None = None
    positive_label: object = None
    prediction_type: str = "probability"
    drop_non_finite_predictions: bool = False
    classes: tuple[str, ...] = ()  # multiclass vocabulary (class id = position); () = binary
    prediction_columns: tuple[str, ...] = ()  # one score column per class, in `classes` order

    def __hash__(self):  # the frame is not hashable; identity is enough for a subject
        return id(self)

    @property
    def has_data(self) -> bool:
        return bool(self.data) or self.frame is not None


PATH_KEYS = ("model", "model_card", "training", "membership_data")


def resolve(policy_subject, policy_dir: Path, **overrides) -> Subject:
    """Policy defaults (paths relative to the policy file) overridden by non-None `overrides`
    (paths as given, relative to the working directory)."""
    values = {}
    if policy_subject is not None:
        for f in fields(Subject):
            v = getattr(policy_subject, f.name, None)
            if v is None:
                continue
            if f.name == "data":
                v = tuple(str(policy_dir / p) for p in ([v] if isinstance(v, str) else v))
            elif f.name in ("classes", "prediction_columns"):
                v = tuple(str(x) for x in v)
            elif f.name in PATH_KEYS:
                v = str(policy_dir / v)
            values[f.name] = v
    subject = Subject(**values)
    given = {k: v for k, v in overrides.items()
             if v is not None and v is not False and not (isinstance(v, tuple) and v == ())}
    if "model" in given and "prediction" in given:
        raise InputError("give either --prediction COLUMN (scores in the data) or --model PATH, not both")
    if "model" in given:  # a score source given here replaces the policy's, whichever kind it was
        given["prediction"] = None
    elif "prediction" in given:
        given["model"] = None
    if "data" in given and isinstance(given["data"], str):
        given["data"] = (given["data"],)
    if "data" in given and isinstance(given["data"], pd.DataFrame):
        given["frame"] = given.pop("data")
    return replace(subject, **given)
