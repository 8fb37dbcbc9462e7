"""What the proactive services answer: entitlements as the person and staff see them."""

from __future__ import annotations

import uuid
from datetime import date, datetime
from enum import StrEnum
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from joinedup.core.i18n import gettext as _
from joinedup.core.pagination import DEFAULT_LIMIT, MAX_LIMIT


class EntitlementStatus(StrEnum):
    ELIGIBLE = "eligible"  # told they may be entitled (inform): apply through the link
    OFFERED = "offered"  # offered: one step to confirm
    GRANTED = "granted"  # granted (automatically, or an offer confirmed)
    DECLINED = "declined"  # the person declined the offer
    OPTED_OUT = "opted_out"  # the person opted out of an automatic grant
    ENDED = "ended"  # no longer due (the rules, or death)
    AWAITING_CONSENT = "awaiting_consent"  # consent basis: nothing read before consent

    @property
    def label(self) -> str:
        return {
            EntitlementStatus.ELIGIBLE: _("You may be entitled"),
            EntitlementStatus.OFFERED: _("Offered to you"),
            EntitlementStatus.GRANTED: _("Granted"),
            EntitlementStatus.DECLINED: _("Declined"),
            EntitlementStatus.OPTED_OUT: _("Opted out"),
            EntitlementStatus.ENDED: _("Ended"),
            EntitlementStatus.AWAITING_CONSENT: _("Waiting for your consent"),
        }[self]

    @property
    def active(self) -> bool:
        return self in _ACTIVE


_ACTIVE = frozenset(
    {EntitlementStatus.ELIGIBLE, EntitlementStatus.OFFERED, EntitlementStatus.GRANTED}
)
#: The statuses a person chose: a new life event does not overturn them.
PERSON_DECIDED = frozenset({EntitlementStatus.DECLINED, EntitlementStatus.OPTED_OUT})


class Decision(StrEnum):
    """What a person decides about an entitlement."""

    ACCEPT = "accept"  # confirm an offer
    DECLINE = "decline"  # decline an offer
    OPT_OUT = "opt_out"  # opt out of an automatic grant


class EntitlementRevisionView(BaseModel):
    model_config = ConfigDict(frozen=True)

    revision: int
    status: EntitlementStatus
    amount_cents: int | None
    period_start: date
    period_end: date | None
    reason: str
    ruleset_version: str
    actor: str
    acting_for: str | None
    letter_reference: str | None
    recorded_at: datetime


class EntitlementView(BaseModel):
    """A person's entitlement from one service (the "My entitlements" read model)."""

    model_config = ConfigDict(frozen=True)

    id: uuid.UUID
    person_code: str
    service_code: str
    service_name: str
    owner_member_class: str
    owner_member_code: str
    owner_name: str
    delivery_mode: str
    status: EntitlementStatus
    amount_cents: int | None = Field(description="Per month, in cents (None: no amount).")
    currency: str = "EUR"
    period_start: date
    period_end: date | None
    occasion: str
    regarding_code: str | None
    life_event: str | None
    reason: str
    explanation: dict[str, Any]
    ruleset: str
    ruleset_version: str
    variable: str
    legal_basis: str
    legal_basis_url: str | None
    apply_url: str | None
    revision: int
    updated_at: datetime
    #: The last day to accept an offer (None: not an offer, or one without a time limit);
    #: after it the offer lapses.
    respond_by: date | None = None
    #: What the person may decide now (accept, decline, opt_out).
    decisions: list[Decision]


class EntitlementDetail(EntitlementView):
    """An entitlement with its revision history, newest last."""

    history: list[EntitlementRevisionView]


class DecisionBody(BaseModel):
    """``POST …/entitlements/{id}/decision``: the person's decision."""

    model_config = ConfigDict(extra="forbid")

    decision: Decision


class ApplicationOutcome(StrEnum):
    GRANTED = "granted"  # the rules found the applicant entitled: granted
    REFUSED = "refused"  # they did not: the entitlement is recorded ended, with the reason


class ApplicationView(BaseModel):
    """An online application and what it led to."""

    model_config = ConfigDict(frozen=True)

    id: uuid.UUID
    service_code: str
    service_name: str
    person_code: str = Field(description="Whom it is for.")
    actor_code: str = Field(description="Who applied (the person, or someone with a mandate).")
    answers: dict[str, Any] = Field(description="What the applicant declared, in the rules' terms.")
    period_start: date
    outcome: ApplicationOutcome
    amount_cents: int | None = Field(description="Per month, in cents (None: no amount).")
    currency: str = "EUR"
    reason: str
    explanation: dict[str, Any]
    entitlement_id: uuid.UUID
    entitlement_status: EntitlementStatus
    submitted_at: datetime
    #: The same submission was sent before: this is the application it made.
    replayed: bool = False


class ApplicationBody(BaseModel):
    """``POST /api/v1/me/services/{code}/applications``: the applicant's answers."""

    model_config = ConfigDict(extra="forbid")

    answers: dict[str, str | int | float | bool] = Field(
        default_factory=dict,
        description="The service's `applicant_inputs` (see the catalogue), e.g. "
        '`{"rent": "450.00", "housing_tenure": "tenant"}`.',
    )


class StaffEntitlementLookup(BaseModel):
    """``POST /api/v1/staff/{class}/{member}/entitlement-lookups``: one person's entitlements
    from the agency's services, for a purpose of those services (the person's code in the
    body, not the address: addresses end up in logs)."""

    model_config = ConfigDict(extra="forbid")

    personal_code: str = Field(max_length=20, description="The person looked up.")
    purpose: str = Field(
        max_length=100,
        description="Why: the purpose of the agency's services whose entitlements are shown "
        "(e.g. `benefit-eligibility`); the person sees it under Who used my data.",
    )
    case_reference: str | None = Field(
        None, max_length=100, description="The case it is for, shown to the person."
    )
    status: list[EntitlementStatus] | None = Field(None, description="Only these statuses.")
    cursor: str | None = Field(None, max_length=500, description="`next_cursor` of a page.")
    limit: int = Field(DEFAULT_LIMIT, ge=1, le=MAX_LIMIT)
