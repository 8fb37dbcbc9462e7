"""Payment accounts: the one account each person registered for payments from the public
sector (as Denmark's NemKonto). Every benefit is paid there, whoever pays it."""

from __future__ import annotations

from datetime import date

import numpy as np
import numpy.typing as npt
from sqlalchemy import select
from sqlalchemy.orm import Session

from joinedup.core.clock import today, utcnow
from joinedup.core.events import emit
from joinedup.registries.events import PaymentAccountRegistered, PaymentAccountsImported
from joinedup.registries.iban import iban_problems, normalise_iban
from joinedup.registries.models import PaymentAccount
from joinedup.registries.schemas import PaymentAccountRecord
from joinedup.registries.service import bitemporal
from joinedup.registries.service.bulk import insert_columns
from joinedup.registries.service.checks import (
    Problems,
    check_not_future,
    check_order,
    check_required_dates,
    check_unique,
    dates,
)
from joinedup.registries.service.lookups import member_of, person_facts


def _check_accounts(
    session: Session,
    problems: Problems,
    person_ids: npt.NDArray[np.int64],
    ibans: npt.NDArray[np.str_],
    valid_from: npt.NDArray[np.datetime64],
) -> None:
    found = iban_problems(ibans)
    for message in np.unique(found[found != ""]).tolist():
        problems.check(found == message, "iban", message)
    check_required_dates(problems, "valid_from", valid_from)
    check_not_future(problems, "valid_from", valid_from, today())
    person = person_facts(session, person_ids)
    problems.check(~person.found, "person_id", "is not a registered person")
    check_order(problems, "valid_from", person.start, valid_from, "is before the person's birth")
    problems.check(~np.isnat(person.end), "person_id", "the person has died")


def register_payment_account(
    session: Session, *, person_id: int, iban: str, valid_from: date | None = None, actor: str
) -> PaymentAccountRecord:
    """Register the account public payments to the person go to, from ``valid_from`` (default
    today). The previous account stops being used that day (its version is superseded and
    re-inserted ended). Emits ``payment_account.registered.v1``."""
    start = valid_from or today()
    normalised = normalise_iban(iban)
    problems = Problems()
    _check_accounts(
        session,
        problems,
        np.array([person_id], dtype=np.int64),
        np.array([normalised]),
        dates([start]),
    )
    current = session.scalar(
        select(PaymentAccount).where(
            PaymentAccount.person_id == person_id,
            bitemporal.as_of(PaymentAccount, valid=start, known=None),
        )
    )
    if current is not None and current.iban == normalised:
        problems.add("iban", "is already the person's registered account")
    problems.raise_if_any()
    _, new = bitemporal.replace_period(
        session,
        PaymentAccount,
        key={"person_id": person_id},
        valid_from=start,
        valid_to=None,
        values={"iban": normalised},
        now=utcnow(),
        actor=actor,
    )
    assert new is not None
    emit(
        session, PaymentAccountRegistered(account_id=new.id, person_id=person_id, valid_from=start)
    )
    return PaymentAccountRecord.model_validate(new)


def import_payment_accounts(
    session: Session,
    *,
    person_ids: npt.NDArray[np.int64],
    ibans: npt.NDArray[np.str_],
    valid_from: npt.NDArray[np.datetime64],
    actor: str,
) -> int:
    """Register the accounts of many persons who have none yet, all or none. Emits one
    ``payment_account.imported.v1``; returns how many were registered."""
    problems = Problems("accounts")
    normalised = np.char.upper(np.char.replace(np.asarray(ibans, dtype=np.str_), " ", ""))
    _check_accounts(session, problems, person_ids, normalised, valid_from)
    check_unique(problems, "person_id", person_ids)
    if not problems and session.scalar(
        select(PaymentAccount.id)
        .where(
            member_of(session, PaymentAccount.person_id, np.unique(person_ids).tolist()),
            PaymentAccount.superseded_at.is_(None),
        )
        .limit(1)
    ):
        problems.add("person_id", "some persons have a registered account already")
    problems.raise_if_any()
    insert_columns(
        session,
        PaymentAccount,
        {
            "person_id": person_ids,
            "iban": normalised,
            "valid_from": valid_from,
            "valid_to": np.full(person_ids.shape[0], np.datetime64("NaT", "D")),
            "recorded_at": utcnow(),
            "recorded_by": actor,
            "superseded_at": None,
        },
    )
    emit(session, PaymentAccountsImported(accounts=int(person_ids.shape[0])))
    return int(person_ids.shape[0])


def payment_account_of(
    session: Session, *, person_id: int, valid: date | None = None, known: bitemporal.Known = None
) -> PaymentAccountRecord | None:
    """The person's registered account on ``valid`` (default today) as known at ``known``."""
    if known is None:
        rows = bitemporal.person_rows_now(
            session, PaymentAccount, person_id=person_id, valid=valid or today()
        )
        return PaymentAccountRecord.model_validate(rows[0]._mapping) if rows else None
    row = session.scalar(
        select(PaymentAccount).where(
            PaymentAccount.person_id == person_id,
            bitemporal.as_of(PaymentAccount, valid=valid or today(), known=known),
        )
    )
    return PaymentAccountRecord.model_validate(row) if row else None
