"""The purposes of the access rights in words: each purpose code (``benefit-eligibility``)
described once, per language, by the central office, so that a person reading "Who used my
data" sees *why* in a sentence and not a code. A purpose nobody described shows as its code.
The pages read the names from the exchange's directory snapshot (a description bumps it: seen
by every process within its staleness bound)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from sqlalchemy import select
from sqlalchemy.orm import Session

from joinedup.core import i18n
from joinedup.core.clock import utcnow
from joinedup.core.errors import NotFound, ValidationFailed
from joinedup.core.pagination import Page, PageRequest, keyset_page
from joinedup.exchange.directory import bump_generation, current_directory
from joinedup.exchange.models import Purpose
from joinedup.exchange.schemas import PurposeRecord
from joinedup.exchange.service.rights import PURPOSE_PATTERN

MAX_NAME = 200


def _record(row: Purpose) -> PurposeRecord:
    return PurposeRecord(
        code=row.code,
        names=dict(row.names),
        described_at=row.described_at,
        described_by=row.described_by,
    )


def describe_purpose(
    session: Session, *, code: str, names: Mapping[str, str], actor: str
) -> PurposeRecord:
    """Say what ``code`` means, in English and any other language the platform speaks (the
    texts replace the earlier ones). Writes one row, nothing if any input is invalid."""
    problems: list[dict[str, str]] = []
    if not PURPOSE_PATTERN.match(code):
        problems.append(
            {
                "field": "code",
                "message": "1 to 64 lower-case letters, digits, '.', '_' or '-', "
                "starting with a letter or digit",
            }
        )
    texts = i18n.checked_texts(problems, "names", names, MAX_NAME)
    if problems:
        raise ValidationFailed("The purpose cannot be described as given.", errors=problems)
    row = session.scalar(select(Purpose).where(Purpose.code == code))
    if row is None:
        row = Purpose(code=code)
        session.add(row)
    row.names = texts
    row.described_at, row.described_by = utcnow(), actor[:100]
    bump_generation(session)  # the directory names the purposes
    session.flush()
    return _record(row)


def get_purpose(session: Session, *, code: str) -> PurposeRecord:
    row = session.scalar(select(Purpose).where(Purpose.code == code[:64]))
    if row is None:
        raise NotFound(f"the purpose {code[:64]!r} is not described")
    return _record(row)


def list_purposes(session: Session, *, page: PageRequest) -> Page[PurposeRecord]:
    """Every described purpose, by code, in keyset pages."""
    rows, cursor = keyset_page(
        session, select(Purpose), keys=[Purpose.code.expression], request=page
    )
    return Page[PurposeRecord](items=[_record(r) for r in rows], next_cursor=cursor)


def purpose_names(session: Session, codes: Iterable[str]) -> dict[str, str]:
    """Each of ``codes`` in words in the current language (else English); a code nobody
    described stands for itself. One query however many codes."""
    wanted = sorted({c for c in codes if c})
    if not wanted:
        return {}
    described = current_directory(session).purposes  # a description bumps the directory
    found = {code: i18n.in_language(described[code]) for code in wanted if code in described}
    return {code: found.get(code) or code for code in wanted}
