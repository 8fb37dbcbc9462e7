"""The request bodies of the population register's write services
(:mod:`~joinedup.exchange.registry_writes`): what a registrar's system sends to record a birth,
a death, a marriage or a move, as Pydantic models (camelCase on the wire, unknown fields
refused, control characters refused in every text)."""

from __future__ import annotations

from datetime import date
from typing import Annotated, Literal

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    StrictInt,
    StringConstraints,
    model_validator,
)
from pydantic.alias_generators import to_camel
from pydantic_core import PydanticCustomError

from joinedup.core.text import CONTROL_CHARACTERS_MESSAGE, has_control_characters

Reference = Annotated[
    str,
    StringConstraints(strip_whitespace=True, min_length=1, max_length=100, pattern=r"^[!-~]+$"),
]
PersonalCode = Annotated[str, StringConstraints(strip_whitespace=True, max_length=32)]
#: The largest register reference (a 64-bit column): a larger one is no reference at all.
MAX_REF = 2**63 - 1


def _printable(value: str) -> str:
    if has_control_characters(value):
        raise PydanticCustomError("control_characters", CONTROL_CHARACTERS_MESSAGE)
    return value


Text = Annotated[str, AfterValidator(_printable)]
Text200 = Annotated[str, StringConstraints(max_length=200), AfterValidator(_printable)]


class WriteBody(BaseModel):
    """What every write service's body has: the registrar's reference."""

    model_config = ConfigDict(
        extra="forbid", alias_generator=to_camel, populate_by_name=True, frozen=True
    )

    reference: Reference = Field(
        description="The registrar's own reference of this registration (printable ASCII, "
        "at most 100): a request repeated with it is answered again, never registered twice."
    )


class BirthIn(WriteBody):
    given_names: Text200
    family_name: Text200
    birth_date: date
    sex: Literal["F", "M"]
    birth_place: Text200
    citizenship: str = Field("XJ", description="ISO 3166-1 alpha-2.", max_length=2)
    parents: list[PersonalCode] = Field(
        min_length=1,
        max_length=2,
        description="Personal codes of one or two parents; the first is the one who gave "
        "birth (the child lives at that parent's address).",
    )


class DeathIn(WriteBody):
    personal_code: PersonalCode
    date_of_death: date


class MarriageIn(WriteBody):
    spouses: list[PersonalCode] = Field(min_length=2, max_length=2)
    married_on: date
    kind: Literal["marriage", "registered-partnership"] = "marriage"


class AddressIn(BaseModel):
    model_config = ConfigDict(extra="forbid", alias_generator=to_camel, populate_by_name=True)

    municipality_code: Text = Field(max_length=8)
    street: Text200
    house_number: Text = Field(max_length=20)
    apartment: Text | None = Field(None, max_length=20)
    postcode: Text = Field(max_length=10)


class MoveIn(WriteBody):
    personal_code: PersonalCode
    moved_on: date
    address_id: StrictInt | None = Field(
        None,
        ge=1,
        le=MAX_REF,
        description="A registered address (a JSON integer); or give `address`.",
    )
    address: AddressIn | None = Field(
        None, description="The address's details (registered if the register has no such one)."
    )

    @model_validator(mode="after")
    def _one_address(self) -> MoveIn:
        if (self.address_id is None) == (self.address is None):
            raise ValueError("give exactly one of addressId and address")
        return self
