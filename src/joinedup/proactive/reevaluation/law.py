"""The law in force: a ruleset with every parameter version published for it.

A parameter version is published with the date it takes effect; nothing is changed in place:
the law in force is the ruleset (as written in code) with the published versions applied in
the order they were published, each from its own date. Evaluating an earlier month therefore
still gives the earlier law.
"""

from __future__ import annotations

import threading
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from joinedup.catalogue import CatalogueService
from joinedup.core.clock import utcnow
from joinedup.core.db import transaction_memo
from joinedup.core.errors import NotFound, ValidationFailed
from joinedup.core.events import emit
from joinedup.core.text import CONTROL_CHARACTERS_MESSAGE, has_control_characters
from joinedup.proactive.reevaluation.events import LawVersionPublished
from joinedup.proactive.reevaluation.models import LawVersion
from joinedup.rules import (
    ParameterChange,
    Period,
    Ruleset,
    apply_reform,
    days_the_rules_change,
    get_ruleset,
    parameters_deciding,
)

MAX_CHANGES = 50
#: A parameter's value is an amount, a threshold, a rate or an age: finite, and below this
#: (a larger value, Infinity or NaN would be in force for every later decision, and the
#: rules could not work out an amount with it: every life event would fail).
MAX_VALUE = Decimal(10) ** 12
#: The earliest day a version may take effect (the rules' periods are four-digit years).
EARLIEST_EFFECTIVE = date(1900, 1, 1)


@dataclass(frozen=True)
class LawVersionRecord:
    """A published parameter version."""

    uid: uuid.UUID
    ruleset: str
    version: str
    changes: tuple[str, ...]
    effective_from: date
    citation: str
    owner: str  # CLASS/CODE of the member that published it
    published_at: datetime
    published_by: str


def _record(row: LawVersion) -> LawVersionRecord:
    return LawVersionRecord(
        uid=row.uid,
        ruleset=row.ruleset,
        version=row.version,
        changes=tuple(row.changes),
        effective_from=row.effective_from,
        citation=row.citation,
        owner=f"{row.owner_member_class}/{row.owner_member_code}",
        published_at=row.published_at,
        published_by=row.published_by,
    )


def _parse(changes: list[str], effective_from: date) -> list[ParameterChange]:
    problems: list[dict[str, str]] = []
    parsed: list[ParameterChange] = []
    if not changes:
        problems.append({"field": "changes", "message": "name at least one parameter change"})
    if len(changes) > MAX_CHANGES:
        problems.append({"field": "changes", "message": f"at most {MAX_CHANGES} changes"})
    for position, text in enumerate(changes[:MAX_CHANGES]):
        if "@" in text:
            problems.append(
                {
                    "field": f"changes[{position}]",
                    "message": "the date a change takes effect is effective_from, not @date",
                }
            )
            continue
        try:
            change = ParameterChange.parse(text)
        except ValidationFailed as exc:
            problems.append({"field": f"changes[{position}]", "message": exc.detail})
            continue
        if not change.value.is_finite() or abs(change.value) >= MAX_VALUE:
            problems.append(
                {
                    "field": f"changes[{position}]",
                    "message": f"the value must be a number between -{MAX_VALUE:,.0f} and "
                    f"{MAX_VALUE:,.0f}",
                }
            )
            continue
        parsed.append(
            ParameterChange(change.path, change.value, effective_from, change.bracket, change.field)
        )
    if problems:
        raise ValidationFailed(
            "; ".join(f"{p['field']}: {p['message']}" for p in problems), errors=problems
        )
    return parsed


def _versions(session: Session, ruleset: str) -> list[LawVersion]:
    return list(
        session.scalars(
            select(LawVersion).where(LawVersion.ruleset == ruleset).order_by(LawVersion.id)
        )
    )


def publish_law_version(
    session: Session,
    *,
    ruleset: str,
    changes: list[str],
    effective_from: date,
    citation: str,
    owner: str,
    actor: str,
) -> LawVersionRecord:
    """Publish parameter ``changes`` (``path=value`` or ``path[i].rate=value``) of ``ruleset``,
    in force from ``effective_from``, under the statute ``citation``, by the member ``owner``
    (``CLASS/CODE``). Everything is checked first (unknown ruleset or parameter, malformed
    value: nothing is written).

    Changes: one ``proactive_law_version`` row. Emits ``proactive.law_version_published.v1``."""
    base = get_ruleset(ruleset)
    parsed = _parse(list(changes), effective_from)
    problems = []
    if not citation.strip():
        problems.append({"field": "citation", "message": "name the statute that changed the law"})
    elif has_control_characters(citation):
        problems.append({"field": "citation", "message": CONTROL_CHARACTERS_MESSAGE})
    if effective_from < EARLIEST_EFFECTIVE:
        problems.append(
            {
                "field": "effective_from",
                "message": f"must be {EARLIEST_EFFECTIVE.isoformat()} or later",
            }
        )
    member_class, _, member_code = owner.partition("/")
    if not member_class or not member_code:
        problems.append({"field": "owner", "message": "must be CLASS/CODE"})
    if problems:
        raise ValidationFailed(
            "; ".join(f"{p['field']}: {p['message']}" for p in problems), errors=problems
        )
    session.info.pop(_IN_SESSION, None)  # what is in force changes with this version
    earlier = _versions(session, ruleset)
    # every version so far and this one must apply (unknown parameters, brackets, kinds)
    in_force(base, [*earlier], extra=parsed)
    count = session.scalar(select(func.count(LawVersion.id)).where(LawVersion.ruleset == ruleset))
    row = LawVersion(
        uid=uuid.uuid4(),
        ruleset=ruleset,
        version=f"{base.version}+{effective_from:%Y%m%d}.{int(count or 0) + 1}"[:32],
        changes=[str(ParameterChange(c.path, c.value, None, c.bracket, c.field)) for c in parsed],
        effective_from=effective_from,
        citation=citation.strip()[:300],
        owner_member_class=member_class,
        owner_member_code=member_code,
        published_at=utcnow(),
        published_by=actor[:100],
    )
    session.add(row)
    session.flush()
    emit(
        session,
        LawVersionPublished(
            law_version=str(row.uid),
            ruleset=ruleset,
            version=row.version,
            effective_from=effective_from,
        ),
    )
    return _record(row)


def changed_parameters(ruleset: str, changes: Sequence[str]) -> list[str]:
    """The parameters (scales, for a bracket's change) that ``changes`` name and ``ruleset``
    has; a malformed change or an unknown parameter is left out (the publication refuses
    it, naming it)."""
    parameters = get_ruleset(ruleset).parameters
    found: list[str] = []
    for text in changes:
        try:
            path = ParameterChange.parse(text).path
        except ValidationFailed:
            continue
        if path in parameters and path not in found:
            found.append(path)
    return found


def parameter_owners(
    services: Sequence[CatalogueService], *, ruleset: str, on: date
) -> dict[str, set[str]]:
    """Who may change each parameter of ``ruleset`` from ``on`` on: ``CLASS/CODE`` of the
    owner of every service of ``services`` (the active catalogued services of the ruleset)
    whose decision depends on it under the formulas in force on ``on`` or on any later day
    the rules change (a version stays in force) — through its own formula and the variables
    it reads, but not through another service's decision (the food bank's parcels may read
    the child benefit; the child benefit's amount is still the Social Insurance Board's
    alone). A decision the rules cannot make on a day (a formula or parameter not in force
    yet) depends on nothing that day. A parameter no service's decision depends on has no
    owner."""
    base = get_ruleset(ruleset)
    months = [
        Period.parse(f"{day.year:04d}-{day.month:02d}")
        for day in [on, *days_the_rules_change(base, after=on)]
    ]
    decisions = {service.variable for service in services}
    owners: dict[str, set[str]] = {}
    for service in services:
        member = f"{service.owner.member_class}/{service.owner.member_code}"
        through = decisions - {service.variable}
        for month in months:
            try:
                paths = parameters_deciding(base, service.variable, month, through=through)
            except ValidationFailed:  # not decidable that month (nothing in force yet)
                continue
            for path in paths:
                owners.setdefault(path, set()).add(member)
    return owners


def in_force(
    base: Ruleset, versions: list[LawVersion], *, extra: list[ParameterChange] | None = None
) -> Ruleset:
    """``base`` with the versions' changes applied, each from its own date."""
    changes: list[ParameterChange] = []
    for version in versions:
        for text in version.changes:
            change = ParameterChange.parse(text)
            changes.append(
                ParameterChange(
                    change.path, change.value, version.effective_from, change.bracket, change.field
                )
            )
    changes.extend(extra or [])
    if not changes:
        return base
    label = versions[-1].version if versions and not extra else "draft"
    return apply_reform(base, changes, name=label)


#: Built rulesets by name and the uids of the versions applied (uids, not row ids: one process
#: may serve several databases, e.g. in tests). Only the latest few are kept.
_CACHE: dict[tuple[str, tuple[uuid.UUID, ...]], Ruleset] = {}
_CACHE_LOCK = threading.Lock()
_CACHE_SIZE = 16


#: ``Session.info`` key of the rulesets in force already looked up in the session's current
#: transaction (a batch of life events evaluates hundreds of times; publishing clears it).
_IN_SESSION = "joinedup.proactive.rulesets_in_force"


def ruleset_in_force(session: Session, name: str) -> Ruleset:
    """The ruleset ``name`` with every published version applied (its ``reform`` names the
    latest version). Built once per process for each set of versions; looked up once per
    transaction (until a version is published in it)."""
    known = transaction_memo(session, _IN_SESSION)
    found: Ruleset | None = known.get(name)
    if found is None:
        found = known[name] = _build_in_force(session, name)
    return found


def versions_in_force(session: Session, name: str) -> tuple[uuid.UUID, ...]:
    """The published versions of ``name`` that :func:`ruleset_in_force` applies, oldest
    first: two processes built the same ruleset when they agree on these."""
    return tuple(version.uid for version in _versions(session, name))


def _build_in_force(session: Session, name: str) -> Ruleset:
    versions = _versions(session, name)
    key = (name, tuple(version.uid for version in versions))
    with _CACHE_LOCK:
        found = _CACHE.get(key)
    if found is None:
        found = in_force(get_ruleset(name), versions)
        with _CACHE_LOCK:
            if len(_CACHE) >= _CACHE_SIZE:
                _CACHE.pop(next(iter(_CACHE)))
            _CACHE[key] = found
    return found


def get_law_version(session: Session, *, uid: uuid.UUID) -> LawVersionRecord:
    row = session.scalar(select(LawVersion).where(LawVersion.uid == uid))
    if row is None:
        raise NotFound("no such law version", law_version=str(uid))
    return _record(row)


def list_law_versions(session: Session, *, ruleset: str) -> list[LawVersionRecord]:
    return [_record(row) for row in _versions(session, ruleset)]
