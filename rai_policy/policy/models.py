"""The policy document as pydantic models: the rule union is built from the registered kinds."""
from __future__ import annotations

import datetime as dt
from functools import lru_cache
from typing import Annotated, Literal, Union

from pydantic import BaseModel, ConfigDict, Field, create_model, field_validator

from rai_policy.rules.registry import rule_kinds


class Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class Subject(Frozen):
    """What is checked: defaults that CLI flags override.  Paths are relative to the policy file."""

    data: str | list[str] | None = None
    label: str | None = None
    prediction: str | None = None
    model: str | None = None
    signature: str | None = None
    model_card: str | None = None
    training: str | None = None
    example_weight: str | None = None
    positive_label: str | int | float | bool | None = None
    prediction_type: Literal["probability", "logits"] = "probability"
    drop_non_finite_predictions: bool = False


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
