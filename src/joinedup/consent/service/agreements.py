"""Data agreements: publish, revise (a new version), retire, read.

A data agreement is the controller's promise about one purpose: what data (fields of exchange
services), on which lawful basis, kept how long. It is published once and then only revised:
every revision is a new version with its own hash, and the versions never change, so a consent
keeps pointing at the text it was given to. A revision that asks for nothing more (same purpose
and lawful basis, no new data items, retention no longer) keeps the consents given before it;
any other revision needs consent again (``consents_from_version``).
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Sequence
from typing import Any
from urllib.parse import urlsplit

from sqlalchemy import Select, select
from sqlalchemy.orm import Session

from joinedup.consent.chain import agreement_canonical, sha256
from joinedup.consent.events import DataAgreementPublished, DataAgreementRetired
from joinedup.consent.models import DataAgreement, DataAgreementVersion
from joinedup.consent.schemas import DataAgreementRecord, DataItem, LawfulBasis
from joinedup.core.clock import utcnow
from joinedup.core.errors import Conflict, NotFound, ValidationFailed
from joinedup.core.events import emit
from joinedup.core.pagination import Page, PageRequest, keyset_page
from joinedup.core.settings import get_settings

_CODE = re.compile(r"^[a-z0-9][a-z0-9._-]{0,63}$")
MAX_RETENTION_DAYS = 36_500
MAX_DATA_ITEMS = 200

Problems = list[dict[str, str]]


def parse_agreement_id(value: uuid.UUID | str, *, field: str = "agreement_id") -> uuid.UUID:
    """``value`` as a UUID (a 422 naming ``field`` when it is not one)."""
    if isinstance(value, uuid.UUID):
        return value
    try:
        return uuid.UUID(str(value).strip())
    except ValueError:
        raise ValidationFailed(
            f"{field} is not a data agreement id (a UUID)",
            errors=[{"field": field, "message": "is not a UUID"}],
        ) from None


def _controller(session: Session, controller: str, problems: Problems) -> tuple[str, str] | None:
    from joinedup import exchange  # the exchange's public names (it imports consent too)

    parts = controller.strip().split("/")
    if len(parts) == 3 and parts[0] == get_settings().xroad_instance:
        parts = parts[1:]
    if len(parts) != 2 or not all(parts):
        problems.append({"field": "controller", "message": "must be an exchange member CLASS/CODE"})
        return None
    try:
        exchange.get_member(session, member_class=parts[0], member_code=parts[1])
    except NotFound:
        problems.append({"field": "controller", "message": "is not a member of the exchange"})
        return None
    return parts[0], parts[1]


def _data_items(
    session: Session, items: Sequence[DataItem], problems: Problems
) -> list[dict[str, str]]:
    """The items normalised (``CLASS/MEMBER/SUBSYSTEM/SERVICE`` without the instance), each a
    published exchange service's field."""
    from joinedup import exchange

    if not items:
        problems.append({"field": "data_items", "message": "name at least one data item"})
    elif len(items) > MAX_DATA_ITEMS:
        problems.append({"field": "data_items", "message": f"at most {MAX_DATA_ITEMS} items"})
    instance = get_settings().xroad_instance
    found: list[dict[str, str]] = []
    fields_of: dict[str, set[str] | None] = {}
    for i, item in enumerate(items[:MAX_DATA_ITEMS]):
        where = f"data_items[{i}]"
        try:
            ref = exchange.ServiceRef.parse(item.service, instance=instance)
        except ValidationFailed:
            problems.append(
                {"field": f"{where}.service", "message": "must be CLASS/MEMBER/SUBSYSTEM/SERVICE"}
            )
            continue
        name = str(ref)
        if name not in fields_of:
            try:
                fields_of[name] = set(exchange.get_service(session, service=ref).fields)
            except NotFound:
                fields_of[name] = None
        known = fields_of[name]
        if known is None:
            problems.append({"field": f"{where}.service", "message": "is not a published service"})
        elif item.field not in known:
            problems.append({"field": f"{where}.field", "message": f"is not a field of {name}"})
        else:
            entry = {"service": name, "field": item.field}
            if entry in found:
                problems.append({"field": where, "message": "is named twice"})
            found.append(entry)
    return found


def _check_terms(
    *,
    title: str,
    purpose: str,
    lawful_basis: LawfulBasis | str,
    retention_days: int,
    policy_url: str | None,
    problems: Problems,
) -> None:
    if not title.strip() or len(title) > 300:
        problems.append({"field": "title", "message": "must be 1 to 300 characters"})
    if not purpose.strip() or len(purpose) > 2000:
        problems.append(
            {"field": "purpose", "message": "say what the data is used for (1 to 2000 characters)"}
        )
    if str(lawful_basis) not in LawfulBasis.__members__.values():
        problems.append(
            {"field": "lawful_basis", "message": "must be one of " + ", ".join(LawfulBasis)}
        )
    if not 1 <= retention_days <= MAX_RETENTION_DAYS:
        problems.append(
            {"field": "retention_days", "message": f"must be 1 to {MAX_RETENTION_DAYS} days"}
        )
    if policy_url is not None:
        parts = urlsplit(policy_url)
        if parts.scheme not in ("http", "https") or not parts.netloc or len(policy_url) > 500:
            problems.append(
                {
                    "field": "policy_url",
                    "message": "must be an http(s) URL of at most 500 characters",
                }
            )


def _raise(problems: Problems) -> None:
    if problems:
        raise ValidationFailed(
            "; ".join(f"{p['field']}: {p['message']}" for p in problems), errors=problems
        )


def agreement_record(
    agreement: DataAgreement, version: DataAgreementVersion
) -> DataAgreementRecord:
    return DataAgreementRecord(
        id=agreement.agreement_id,
        controller=f"{agreement.controller_member_class}/{agreement.controller_member_code}",
        code=agreement.code,
        version=version.version,
        title=version.title,
        purpose=version.purpose,
        lawful_basis=LawfulBasis(version.lawful_basis),
        data_items=[DataItem(service=i["service"], field=i["field"]) for i in version.data_items],
        retention_days=version.retention_days,
        policy_url=version.policy_url,
        active=agreement.retired_at is None and version.version == agreement.current_version,
        current=version.version == agreement.current_version,
        consents_from_version=version.consents_from_version,
        revision_hash=version.revision_hash.hex(),
        published_at=version.published_at,
        retired_at=agreement.retired_at,
    )


def _new_version(
    session: Session,
    agreement: DataAgreement,
    *,
    number: int,
    consents_from: int,
    terms: dict[str, Any],
    actor: str,
) -> DataAgreementVersion:
    published_at = utcnow()
    values = {
        "agreement_id": agreement.agreement_id,
        "controller": f"{agreement.controller_member_class}/{agreement.controller_member_code}",
        "code": agreement.code,
        "version": number,
        "consents_from_version": consents_from,
        "published_at": published_at,
        **terms,
    }
    row = DataAgreementVersion(
        agreement_ref=agreement.id,
        version=number,
        consents_from_version=consents_from,
        revision_hash=sha256(agreement_canonical(values)),
        published_at=published_at,
        published_by=actor,
        **terms,
    )
    session.add(row)
    agreement.current_version = number
    agreement.consents_from_version = consents_from
    session.flush()
    emit(
        session,
        DataAgreementPublished(
            agreement_id=agreement.agreement_id,
            version=number,
            controller=values["controller"],
            lawful_basis=terms["lawful_basis"],
            consents_kept=consents_from < number,
        ),
    )
    return row


def publish_data_agreement(
    session: Session,
    *,
    controller: str,
    code: str,
    title: str,
    purpose: str,
    lawful_basis: LawfulBasis | str,
    data_items: Sequence[DataItem],
    retention_days: int,
    policy_url: str | None = None,
    agreement_id: uuid.UUID | None = None,
    actor: str,
) -> DataAgreementRecord:
    """Publish a data agreement of ``controller`` (an exchange member, ``CLASS/CODE``): its
    version 1. ``data_items`` must be fields of published exchange services. ``agreement_id``
    is generated unless given (the demo gives fixed ones).

    Writes the agreement and its first version (nothing if any input is invalid); emits
    ``consent.agreement_published.v1``."""
    problems: Problems = []
    member = _controller(session, controller, problems)
    if not _CODE.match(code):
        problems.append(
            {"field": "code", "message": "1 to 64 lower-case letters, digits, '.', '_' or '-'"}
        )
    _check_terms(
        title=title,
        purpose=purpose,
        lawful_basis=lawful_basis,
        retention_days=retention_days,
        policy_url=policy_url,
        problems=problems,
    )
    items = _data_items(session, data_items, problems)
    if member is not None and _CODE.match(code):
        taken = session.scalar(
            select(DataAgreement.id).where(
                DataAgreement.controller_member_class == member[0],
                DataAgreement.controller_member_code == member[1],
                DataAgreement.code == code,
            )
        )
        if taken is not None:
            problems.append(
                {
                    "field": "code",
                    "message": "the controller has an agreement with this code already",
                }
            )
    if agreement_id is not None and session.scalar(
        select(DataAgreement.id).where(DataAgreement.agreement_id == agreement_id)
    ):
        problems.append({"field": "agreement_id", "message": "is taken"})
    _raise(problems)
    assert member is not None
    agreement = DataAgreement(
        agreement_id=agreement_id or uuid.uuid4(),
        controller_member_class=member[0],
        controller_member_code=member[1],
        code=code,
        current_version=1,
        consents_from_version=1,
        created_at=utcnow(),
        created_by=actor,
        retired_at=None,
        retired_by=None,
    )
    session.add(agreement)
    session.flush()
    terms = _terms(title, purpose, lawful_basis, items, retention_days, policy_url)
    version = _new_version(session, agreement, number=1, consents_from=1, terms=terms, actor=actor)
    return agreement_record(agreement, version)


def _terms(
    title: str,
    purpose: str,
    lawful_basis: LawfulBasis | str,
    items: list[dict[str, str]],
    retention_days: int,
    policy_url: str | None,
) -> dict[str, Any]:
    return {
        "title": title.strip(),
        "purpose": purpose.strip(),
        "lawful_basis": str(LawfulBasis(str(lawful_basis))),
        "data_items": items,
        "retention_days": retention_days,
        "policy_url": policy_url,
    }


def load_agreement(
    session: Session, agreement_id: uuid.UUID | str
) -> tuple[DataAgreement, DataAgreementVersion]:
    """The agreement and its current version (``NotFound`` if there is none)."""
    wanted = parse_agreement_id(agreement_id)
    row = session.execute(
        select(DataAgreement, DataAgreementVersion)
        .join(DataAgreementVersion, DataAgreementVersion.agreement_ref == DataAgreement.id)
        .where(
            DataAgreement.agreement_id == wanted,
            DataAgreementVersion.version == DataAgreement.current_version,
        )
    ).first()
    if row is None:
        raise NotFound(f"no data agreement {wanted}", data_agreement_id=str(wanted))
    return row[0], row[1]


def _keeps_consents(old: DataAgreementVersion, terms: dict[str, Any]) -> bool:
    """Whether the new terms ask for nothing more than ``old`` did."""
    old_items = {(i["service"], i["field"]) for i in old.data_items}
    new_items = {(i["service"], i["field"]) for i in terms["data_items"]}
    return (
        terms["purpose"] == old.purpose
        and terms["lawful_basis"] == old.lawful_basis
        and new_items <= old_items
        and terms["retention_days"] <= old.retention_days
    )


def revise_data_agreement(
    session: Session,
    *,
    agreement_id: uuid.UUID | str,
    title: str,
    purpose: str,
    lawful_basis: LawfulBasis | str,
    data_items: Sequence[DataItem],
    retention_days: int,
    policy_url: str | None = None,
    actor: str,
) -> DataAgreementRecord:
    """Publish a new version of an agreement in force. Consents given before it keep holding
    only if it asks for nothing more (see the module docstring).

    Writes one version row and updates the agreement's current version; emits
    ``consent.agreement_published.v1``. A retired agreement cannot be revised (409)."""
    agreement, current = load_agreement(session, agreement_id)
    if agreement.retired_at is not None:
        raise Conflict("the data agreement is retired: publish a new agreement instead")
    problems: Problems = []
    _check_terms(
        title=title,
        purpose=purpose,
        lawful_basis=lawful_basis,
        retention_days=retention_days,
        policy_url=policy_url,
        problems=problems,
    )
    items = _data_items(session, data_items, problems)
    _raise(problems)
    terms = _terms(title, purpose, lawful_basis, items, retention_days, policy_url)
    number = current.version + 1
    consents_from = current.consents_from_version if _keeps_consents(current, terms) else number
    version = _new_version(
        session, agreement, number=number, consents_from=consents_from, terms=terms, actor=actor
    )
    return agreement_record(agreement, version)


def retire_data_agreement(
    session: Session, *, agreement_id: uuid.UUID | str, actor: str
) -> DataAgreementRecord:
    """Retire an agreement: no consent can be given to it any more and no consent to it is in
    force from now on (the exchange stops answering under it). Retiring a retired agreement
    changes nothing. Emits ``consent.agreement_retired.v1``."""
    agreement, current = load_agreement(session, agreement_id)
    if agreement.retired_at is None:
        agreement.retired_at = utcnow()
        agreement.retired_by = actor
        session.flush()
        emit(
            session,
            DataAgreementRetired(agreement_id=agreement.agreement_id, version=current.version),
        )
    return agreement_record(agreement, current)


def get_data_agreement(
    session: Session, *, agreement_id: uuid.UUID | str, version: int | None = None
) -> DataAgreementRecord:
    """An agreement's current version, or the version asked for (``NotFound`` if none)."""
    agreement, current = load_agreement(session, agreement_id)
    if version is None or version == current.version:
        return agreement_record(agreement, current)
    row = session.scalar(
        select(DataAgreementVersion).where(
            DataAgreementVersion.agreement_ref == agreement.id,
            DataAgreementVersion.version == version,
        )
    )
    if row is None:
        raise NotFound(f"data agreement {agreement.agreement_id} has no version {version}")
    return agreement_record(agreement, row)


def list_agreement_versions(
    session: Session, *, agreement_id: uuid.UUID | str
) -> list[DataAgreementRecord]:
    """Every version of an agreement, oldest first (an agreement has few)."""
    agreement, _ = load_agreement(session, agreement_id)
    rows = session.scalars(
        select(DataAgreementVersion)
        .where(DataAgreementVersion.agreement_ref == agreement.id)
        .order_by(DataAgreementVersion.version)
    )
    return [agreement_record(agreement, row) for row in rows]


def list_data_agreements(
    session: Session, *, page: PageRequest, controller: str | None = None
) -> Page[DataAgreementRecord]:
    """Agreements in publication order (keyset pages), each as its current version,
    optionally of one controller (``CLASS/CODE``)."""
    statement: Select[Any] = select(DataAgreement)
    if controller is not None:
        member_class, _, member_code = controller.partition("/")
        statement = statement.where(
            DataAgreement.controller_member_class == member_class,
            DataAgreement.controller_member_code == member_code,
        )
    rows, cursor = keyset_page(session, statement, keys=[DataAgreement.id.expression], request=page)
    versions = {
        (v.agreement_ref, v.version): v
        for v in session.scalars(
            select(DataAgreementVersion).where(
                DataAgreementVersion.agreement_ref.in_([r.id for r in rows])
            )
        )
    }
    items = [agreement_record(r, versions[r.id, r.current_version]) for r in rows]
    return Page[DataAgreementRecord](items=items, next_cursor=cursor)
