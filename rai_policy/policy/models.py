"""The policy document as pydantic models: the rule union is built from the registered kinds."""
from __future__ import annotations

import datetime as dt
from functools import lru_cache
from typing import Annotated, Literal, Union

from pydantic import BaseModel, ConfigDict, Field, create_model, field_validator, model_validator

from rai_policy.rules.registry import rule_kinds


class Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid", allow_inf_nan=False)


class Subject(Frozen):
    """What is checked: defaults that CLI flags override.  Paths are relative to the policy file."""

    data: str | list[str] | None = None
    label: str | None = None
    prediction: str | None = None
    model: str | None = None
    signature: str | None = None
    model_card: str | None = None
    training: str | None = None
    membership_data: str | None = None
    example_weight: str | None = None
    positive_label: str | int | float | bool | None = None
    prediction_type: Literal["probability", "logits"] = "probability"
    drop_non_finite_predictions: bool = False
    classes: list[str | int] | None = Field(None, min_length=2, max_length=1000)
    prediction_columns: list[str] | None = Field(None, min_length=2, max_length=1000)

    @field_validator("classes")
    @classmethod
    def _distinct_classes(cls, v):
        if v is None:
            return v
        names = [class_name(x) for x in v]
        if any(not n for n in names):
            raise ValueError("a class name must not be empty")
        dupes = sorted({n for n in names if names.count(n) > 1})
        if dupes:
            raise ValueError(f"class name(s) listed twice: {', '.join(dupes)}")
        return names

    @model_validator(mode="after")
    def _columns_match_classes(self):
        if self.classes is not None and self.positive_label is not None:
            raise ValueError("`positive_label` maps binary labels; a multiclass subject (`classes:`) judges each "
                             "class one-vs-rest through the rule's `class:`")
        if self.prediction_columns is not None:
            if self.classes is None:
                raise ValueError("`prediction_columns` needs `classes` (the class of each column, in order)")
            if len(self.prediction_columns) != len(self.classes):
                raise ValueError(f"`prediction_columns` names {len(self.prediction_columns)} columns for "
                                 f"{len(self.classes)} classes; give one score column per class, in `classes` order")
        return self


def class_name(value) -> str:
    """A class as written in `classes:` → its name (numbers spelled like slice values, 1 not 1.0)."""
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value).strip()


class Waiver(Frozen):
    """A reviewed exception: the rule (and optionally one slice) fails without failing the run until `expires`."""

    rule: str = Field(min_length=1)
    slice: dict[str, str | int | float | bool] | None = None
    reason: str = Field(min_length=3)
    approved_by: str = Field(min_length=1)
    expires: dt.date

    @field_validator("reason", "approved_by")
    @classmethod
    def _not_blank(cls, v: str) -> str:
        if not v.strip():
            raise ValueError("must not be blank")
        return v


class Override(Frozen):
    """In a policy that `extends` packs: change a rule's keys by id, or disable it with a reason."""

    rule: str
    disable: bool = False
    reason: str | None = None
    set: dict[str, object] = Field(default_factory=dict)


@lru_cache(maxsize=1)
def policy_model() -> type[BaseModel]:
    """The Policy model with `rules` a discriminated union over every registered kind."""
    specs = tuple(cls.Spec for cls in rule_kinds().values())
    rule_union = Annotated[Union[specs], Field(discriminator="kind")]  # type: ignore[valid-type]
    return create_model(
        "Policy",
        __base__=Frozen,
        version=(Literal[1], ...),
        name=(str, Field(min_length=1, max_length=200)),
        description=(str | None, None),
        extends=(list[str], Field(default_factory=list)),
        overrides=(list[Override], Field(default_factory=list)),
        subject=(Subject, Field(default_factory=Subject)),
        waivers=(list[Waiver], Field(default_factory=list)),
        rules=(list[rule_union], Field(min_length=1)),
    )
