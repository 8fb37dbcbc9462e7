"""The base registries' tables. Nobody outside the ``registries`` context imports them.

**Bitemporal facts.** A fact that changes (a residence, a name, a marriage, an employment, a
representative's mandate, a payment account) is stored as *versions*. Each version carries:

- valid time ``[valid_from, valid_to)``: when the fact holds in the world (half-open, a
  ``valid_to`` of NULL means "until further notice");
- recorded time ``[recorded_at, superseded_at)``: when the register held that version to be
  true (``superseded_at`` NULL means "still believed").

Nothing is updated in place: a change or a correction sets ``superseded_at`` on the versions it
replaces and inserts new ones (:mod:`joinedup.registries.service.bitemporal`). Monthly incomes
have the month as their valid time and are superseded the same way. A person's death is
recorded once (``date_of_death`` with ``death_recorded_at``) so that "was P known to be dead
on K" is answerable as well.

Partial unique indexes make the invariants hold in the database: one open residence and one
open payment account per person, one believed income per person, employer and month.
"""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import BigInteger, CheckConstraint, Date, ForeignKey, Index, Integer, String, text
from sqlalchemy.orm import Mapped, mapped_column

from joinedup.core.db import Base

#: An auto-incrementing 64-bit key (SQLite only auto-increments INTEGER PRIMARY KEY).
BigId = BigInteger().with_variant(Integer(), "sqlite")

_CURRENT = "superseded_at IS NULL"
_SUPERSEDED = "superseded_at IS NOT NULL"
_OPEN_AND_CURRENT = "superseded_at IS NULL AND valid_to IS NULL"


class Recorded:
    """Who recorded a row and when (every registry row)."""

    recorded_at: Mapped[datetime]
    recorded_by: Mapped[str] = mapped_column(String(100))


class Bitemporal(Recorded):
    """Valid time and recorded time of one version of a fact (see the module docstring)."""

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    valid_from: Mapped[date] = mapped_column(Date)
    valid_to: Mapped[date | None] = mapped_column(Date)
    superseded_at: Mapped[datetime | None]


def _period_check() -> CheckConstraint:
    return CheckConstraint("valid_to IS NULL OR valid_to > valid_from", name="valid_period")


# --- who keeps what --------------------------------------------------------------------------


class Registry(Recorded, Base):
    """A base registry and the exchange member (and subsystem) that owns and publishes it."""

    __tablename__ = "registry"

    code: Mapped[str] = mapped_column(String(40), primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    owner_member_class: Mapped[str] = mapped_column(String(10))
    owner_member_code: Mapped[str] = mapped_column(String(64))
    owner_subsystem_code: Mapped[str] = mapped_column(String(64))


# --- addresses and administrative areas ------------------------------------------------------


class Region(Recorded, Base):
    __tablename__ = "region"

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(8), unique=True)
    name: Mapped[str] = mapped_column(String(200))


class Municipality(Recorded, Base):
    __tablename__ = "municipality"

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(8), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    region_id: Mapped[int] = mapped_column(ForeignKey("region.id"), index=True)


class Address(Recorded, Base):
    """A place people live or businesses are seated at. Addresses do not change; people move."""

    __tablename__ = "address"

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    municipality_id: Mapped[int] = mapped_column(ForeignKey("municipality.id"), index=True)
    street: Mapped[str] = mapped_column(String(200))
    house_number: Mapped[str] = mapped_column(String(20))
    apartment: Mapped[str | None] = mapped_column(String(20))
    postcode: Mapped[str] = mapped_column(String(10))


# --- population ------------------------------------------------------------------------------


class Person(Recorded, Base):
    """A person's facts that never change (a mistaken one is a correction of the register)."""

    __tablename__ = "person"

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    personal_code: Mapped[str] = mapped_column(String(11), unique=True)
    #: Not indexed: the personal code begins with the birth date, so its unique index finds
    #: everyone born on a day (``persons_born_on``), and a second index taking inserts in
    #: random order would halve the speed of bulk loads.
    birth_date: Mapped[date] = mapped_column(Date)
    birth_place: Mapped[str] = mapped_column(String(200))
    sex: Mapped[str] = mapped_column(String(1))
    citizenship: Mapped[str] = mapped_column(String(2))
    date_of_death: Mapped[date | None] = mapped_column(Date)
    death_recorded_at: Mapped[datetime | None]

    __table_args__ = (
        CheckConstraint("sex IN ('F', 'M')", name="sex"),
        CheckConstraint("date_of_death IS NULL OR date_of_death >= birth_date", name="death"),
    )


class PersonName(Bitemporal, Base):
    __tablename__ = "person_name"

    person_id: Mapped[int] = mapped_column(BigInteger, ForeignKey("person.id"))
    given_names: Mapped[str] = mapped_column(String(200))
    family_name: Mapped[str] = mapped_column(String(200))

    __table_args__ = (
        _period_check(),
        Index("ix_person_name_person", "person_id", "valid_from"),
    )


class Residence(Bitemporal, Base):
    """Where a person lives (their registered residence address)."""

    __tablename__ = "residence"

    person_id: Mapped[int] = mapped_column(BigInteger, ForeignKey("person.id"))
    address_id: Mapped[int] = mapped_column(BigInteger, ForeignKey("address.id"), index=True)

    __table_args__ = (
        _period_check(),
        Index("ix_residence_person", "person_id", "valid_from"),
        Index(
            "uq_residence_open",
            "person_id",
            unique=True,
            sqlite_where=text(_OPEN_AND_CURRENT),
            postgresql_where=text(_OPEN_AND_CURRENT),
        ),
    )


class Relation(Bitemporal, Base):
    """``parent`` (person is a parent of related person), ``spouse`` or ``partner``.

    Spouses and registered partners are stored once, the lower person id first.
    """

    __tablename__ = "relation"

    kind: Mapped[str] = mapped_column(String(10))
    person_id: Mapped[int] = mapped_column(BigInteger, ForeignKey("person.id"))
    related_person_id: Mapped[int] = mapped_column(BigInteger, ForeignKey("person.id"))
    #: Why a relation ended: ``divorce``, ``annulment``, ``death`` (NULL while it lasts).
    end_reason: Mapped[str | None] = mapped_column(String(20))

    __table_args__ = (
        _period_check(),
        CheckConstraint("kind IN ('parent', 'spouse', 'partner')", name="kind"),
        CheckConstraint("person_id <> related_person_id", name="distinct_persons"),
        Index("ix_relation_person", "person_id", "kind"),
        Index("ix_relation_related_person", "related_person_id", "kind"),
    )


# --- businesses ------------------------------------------------------------------------------


class Business(Recorded, Base):
    __tablename__ = "business"

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    registration_code: Mapped[str] = mapped_column(String(8), unique=True)
    name: Mapped[str] = mapped_column(String(300))
    legal_form: Mapped[str] = mapped_column(String(30))
    address_id: Mapped[int | None] = mapped_column(BigInteger, ForeignKey("address.id"))
    registered_on: Mapped[date] = mapped_column(Date)
    deregistered_on: Mapped[date | None] = mapped_column(Date)


class BusinessRepresentative(Bitemporal, Base):
    """A person's right to represent a business (board member, procurator, …)."""

    __tablename__ = "business_representative"

    business_id: Mapped[int] = mapped_column(BigInteger, ForeignKey("business.id"), index=True)
    person_id: Mapped[int] = mapped_column(BigInteger, ForeignKey("person.id"), index=True)
    role: Mapped[str] = mapped_column(String(30))

    __table_args__ = (_period_check(),)


# --- income and employment -------------------------------------------------------------------


class Employment(Bitemporal, Base):
    """A person working for an employer from ``valid_from`` until ``valid_to`` (exclusive)."""

    __tablename__ = "employment"

    person_id: Mapped[int] = mapped_column(BigInteger, ForeignKey("person.id"), index=True)
    business_id: Mapped[int] = mapped_column(BigInteger, ForeignKey("business.id"), index=True)

    __table_args__ = (_period_check(),)


class MonthlyIncome(Recorded, Base):
    """Income a person received from an employer in one month, in minor units (cents)."""

    __tablename__ = "monthly_income"

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    person_id: Mapped[int] = mapped_column(BigInteger, ForeignKey("person.id"))
    business_id: Mapped[int] = mapped_column(BigInteger, ForeignKey("business.id"))
    period: Mapped[str] = mapped_column(String(7))  # YYYY-MM
    amount: Mapped[int] = mapped_column(BigInteger)
    currency: Mapped[str] = mapped_column(String(3))
    superseded_at: Mapped[datetime | None]

    __table_args__ = (
        CheckConstraint("amount >= 0", name="amount"),
        # Believed rows are found through the unique index below, superseded ones (only
        # needed for "as known at" queries) through this one, which a bulk load never touches.
        Index(
            "ix_monthly_income_superseded",
            "person_id",
            "period",
            sqlite_where=text(_SUPERSEDED),
            postgresql_where=text(_SUPERSEDED),
        ),
        Index(
            "uq_monthly_income_current",
            "person_id",
            "business_id",
            "period",
            unique=True,
            sqlite_where=text(_CURRENT),
            postgresql_where=text(_CURRENT),
        ),
    )


# --- payment accounts ------------------------------------------------------------------------


class PaymentAccount(Bitemporal, Base):
    """The account a person registered for payments from the public sector (as NemKonto)."""

    __tablename__ = "payment_account"

    person_id: Mapped[int] = mapped_column(BigInteger, ForeignKey("person.id"), index=True)
    iban: Mapped[str] = mapped_column(String(34))

    __table_args__ = (
        _period_check(),
        Index(
            "uq_payment_account_open",
            "person_id",
            unique=True,
            sqlite_where=text(_OPEN_AND_CURRENT),
            postgresql_where=text(_OPEN_AND_CURRENT),
        ),
    )


BITEMPORAL_MODELS: tuple[type[Bitemporal], ...] = (
    PersonName,
    Residence,
    Relation,
    BusinessRepresentative,
    Employment,
    PaymentAccount,
)
