"""The consent register over HTTP for agencies, under ``/api/v1/consent``, shaped like
GovStack's Consent API (data agreements, consent records, revisions; the *individual* is the
data subject, identified by their personal code).

**Who may.** An exchange client (OAuth 2.0 client credentials, ``Bearer`` token, as for the
exchange's other APIs) acts for its member: it publishes, revises and retires the member's own
data agreements, records the consents people give to them on its own channels (the data
subject's own give and withdraw comes through the citizen portal) and reads those consents.
Anyone authenticated may read agreements (they are public promises); a consent record of
another controller's agreement is not found. Writes are recorded with the client as the actor
(``client:<client id>``). Every error is an RFC 9457 problem document.

``consent`` sits below the web layer, so its sessions are built here on the application's
:class:`~joinedup.core.db.Database`, function-scoped like the web layer's.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from typing import Annotated, cast

from fastapi import APIRouter, Depends, Query, Request, Response, status
from pydantic import BaseModel, ConfigDict, Field
from pydantic.alias_generators import to_camel
from sqlalchemy.orm import Session

from joinedup import exchange
from joinedup.consent.schemas import (
    ConsentChange,
    ConsentHistory,
    ConsentRecordView,
    DataAgreementRecord,
    DataItem,
    LawfulBasis,
)
from joinedup.consent.service import (
    agreement_of_record,
    change_consent,
    consent_history,
    get_consent_record,
    get_data_agreement,
    give_consent,
    list_agreement_versions,
    list_consents,
    list_data_agreements,
    publish_data_agreement,
    retire_data_agreement,
    revise_data_agreement,
)
from joinedup.core.db import Database
from joinedup.core.errors import Forbidden, NotFound
from joinedup.core.pagination import DEFAULT_LIMIT, Page, PageRequest


def _database(request: Request) -> Database:
    return cast(Database, request.app.state.database)


def _write_session(request: Request) -> Iterator[Session]:
    with _database(request).unit_of_work() as session:
        yield session


def _read_session(request: Request) -> Iterator[Session]:
    with _database(request).reading() as session:
        yield session


WriteSession = Annotated[Session, Depends(_write_session, scope="function")]
ReadSession = Annotated[Session, Depends(_read_session, scope="function")]


def _client(request: Request) -> exchange.ClientIdentity:
    with _database(request).reading() as session:
        client: exchange.ClientIdentity = exchange.authenticate_client(
            session, authorization=request.headers.get("authorization")
        )
    return client


Client = Annotated[exchange.ClientIdentity, Depends(_client)]

router = APIRouter(prefix="/api/v1/consent", tags=["consent"])

Cursor = Annotated[str | None, Query(description="`next_cursor` of the previous page.")]
Limit = Annotated[int, Query(ge=1, le=500)]


def _actor(client: exchange.ClientIdentity) -> str:
    return f"client:{client.client_id}"


def _controller(client: exchange.ClientIdentity) -> str:
    return f"{client.member_class}/{client.member_code}"


def _own(client: exchange.ClientIdentity, agreement: DataAgreementRecord) -> None:
    if agreement.controller != _controller(client):
        raise Forbidden(
            f"{client.xroad_id} is not the controller of this data agreement: only "
            f"{agreement.controller}'s systems may change it or record consents to it"
        )


def _own_record(session: Session, client: exchange.ClientIdentity, record_id: uuid.UUID) -> None:
    agreement = get_data_agreement(
        session, agreement_id=agreement_of_record(session, consent_record_id=record_id)
    )
    if agreement.controller != _controller(client):  # another controller's: not disclosed
        raise NotFound(f"no consent record {record_id}")


class _Body(BaseModel):
    model_config = ConfigDict(extra="forbid", alias_generator=to_camel, populate_by_name=True)


class DataAgreementTerms(_Body):
    title: str
    purpose: str = Field(description="What the data is used for, as shown to the person.")
    lawful_basis: LawfulBasis
    data_items: list[DataItem]
    retention_days: int
    policy_url: str | None = None


class DataAgreementIn(DataAgreementTerms):
    code: str = Field(description="The controller's own short name for the agreement.")


class ConsentIn(_Body):
    individual_id: str = Field(description="The data subject's personal code.")
    version: int | None = Field(None, description="The version consented to (the current one).")


class ConsentUpdate(_Body):
    opt_in: bool = Field(description="True: give consent again; false: withdraw it.")


class DataAgreementEnvelope(BaseModel):
    model_config = ConfigDict(frozen=True, alias_generator=to_camel, populate_by_name=True)

    data_agreement: DataAgreementRecord


@router.post(
    "/data-agreements",
    status_code=status.HTTP_201_CREATED,
    summary="Publish a data agreement of the client's member (version 1)",
)
def post_data_agreement(
    body: DataAgreementIn, client: Client, session: WriteSession
) -> DataAgreementEnvelope:
    record = publish_data_agreement(
        session,
        controller=_controller(client),
        code=body.code,
        title=body.title,
        purpose=body.purpose,
        lawful_basis=body.lawful_basis,
        data_items=body.data_items,
        retention_days=body.retention_days,
        policy_url=body.policy_url,
        actor=_actor(client),
    )
    return DataAgreementEnvelope(data_agreement=record)


@router.get("/data-agreements", summary="Data agreements (the client's member's, or anyone's)")
def get_data_agreements(
    client: Client,
    session: ReadSession,
    cursor: Cursor = None,
    limit: Limit = DEFAULT_LIMIT,
    controller: Annotated[
        str | None, Query(description="CLASS/CODE; default: the client's own member.")
    ] = None,
) -> Page[DataAgreementRecord]:
    return list_data_agreements(
        session,
        page=PageRequest(cursor=cursor, limit=limit),
        controller=controller or _controller(client),
    )


@router.get("/data-agreements/{data_agreement_id}", summary="A data agreement's current version")
def get_one_data_agreement(
    data_agreement_id: uuid.UUID, _: Client, session: ReadSession
) -> DataAgreementEnvelope:
    return DataAgreementEnvelope(
        data_agreement=get_data_agreement(session, agreement_id=data_agreement_id)
    )


@router.put(
    "/data-agreements/{data_agreement_id}",
    summary="Revise a data agreement: a new version (earlier consents hold only if it asks "
    "for nothing more)",
)
def put_data_agreement(
    data_agreement_id: uuid.UUID, body: DataAgreementTerms, client: Client, session: WriteSession
) -> DataAgreementEnvelope:
    _own(client, get_data_agreement(session, agreement_id=data_agreement_id))
    record = revise_data_agreement(
        session,
        agreement_id=data_agreement_id,
        title=body.title,
        purpose=body.purpose,
        lawful_basis=body.lawful_basis,
        data_items=body.data_items,
        retention_days=body.retention_days,
        policy_url=body.policy_url,
        actor=_actor(client),
    )
    return DataAgreementEnvelope(data_agreement=record)


@router.delete(
    "/data-agreements/{data_agreement_id}",
    summary="Retire a data agreement (no consent to it is in force any more)",
)
def delete_data_agreement(
    data_agreement_id: uuid.UUID, client: Client, session: WriteSession
) -> DataAgreementEnvelope:
    _own(client, get_data_agreement(session, agreement_id=data_agreement_id))
    record = retire_data_agreement(session, agreement_id=data_agreement_id, actor=_actor(client))
    return DataAgreementEnvelope(data_agreement=record)


@router.get(
    "/data-agreements/{data_agreement_id}/revisions",
    summary="Every version of a data agreement, oldest first",
)
def get_data_agreement_revisions(
    data_agreement_id: uuid.UUID, _: Client, session: ReadSession
) -> list[DataAgreementRecord]:
    return list_agreement_versions(session, agreement_id=data_agreement_id)


@router.post(
    "/data-agreements/{data_agreement_id}/consent-records",
    status_code=status.HTTP_201_CREATED,
    summary="Record that an individual consents to the agreement's current version",
    responses={200: {"description": "The consent was in force already: nothing changed."}},
)
def post_consent_record(
    data_agreement_id: uuid.UUID,
    body: ConsentIn,
    client: Client,
    session: WriteSession,
    response: Response,
) -> ConsentChange:
    _own(client, get_data_agreement(session, agreement_id=data_agreement_id))
    change = give_consent(
        session,
        agreement_id=data_agreement_id,
        subject_code=body.individual_id,
        version=body.version,
        actor=_actor(client),
    )
    if not change.changed:
        response.status_code = status.HTTP_200_OK
    return change


@router.get(
    "/consent-records",
    summary="An individual's consent records to the client's member's agreements",
)
def get_consent_records(
    client: Client,
    session: ReadSession,
    individual_id: Annotated[str, Query(alias="individualId", description="A personal code.")],
    cursor: Cursor = None,
    limit: Limit = DEFAULT_LIMIT,
) -> Page[ConsentRecordView]:
    return list_consents(
        session,
        subject_code=individual_id,
        page=PageRequest(cursor=cursor, limit=limit),
        controller=_controller(client),
    )


@router.get(
    "/consent-records/{consent_record_id}", summary="A consent record and its latest revision"
)
def get_one_consent_record(
    consent_record_id: uuid.UUID, client: Client, session: ReadSession
) -> ConsentChange:
    _own_record(session, client, consent_record_id)
    return get_consent_record(session, consent_record_id=consent_record_id)


@router.put(
    "/consent-records/{consent_record_id}",
    summary="Withdraw (optIn false) or give again (optIn true): a new revision",
)
def put_consent_record(
    consent_record_id: uuid.UUID, body: ConsentUpdate, client: Client, session: WriteSession
) -> ConsentChange:
    _own_record(session, client, consent_record_id)
    return change_consent(
        session, consent_record_id=consent_record_id, opt_in=body.opt_in, actor=_actor(client)
    )


@router.get(
    "/consent-records/{consent_record_id}/revisions",
    summary="A consent's history: every revision with its hash chain, verified against the "
    "transparency log",
)
def get_consent_revisions(
    consent_record_id: uuid.UUID, client: Client, session: ReadSession
) -> ConsentHistory:
    _own_record(session, client, consent_record_id)
    return consent_history(session, consent_record_id=consent_record_id)
