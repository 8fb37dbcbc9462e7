"""A small seeded country for the mailbox's tests: agencies, persons, the demo exchange."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import text

from joinedup.core.db import Database
from joinedup.demo.agencies import organisation

ACTOR = "notify-test"


@dataclass(frozen=True)
class Country:
    social: str  # "GOV/<code>" of the Social Insurance Board
    tax: str  # "GOV/<code>" of the Tax Board
    person: str  # a living resident
    other: str  # another living resident
    mailbox: str  # the digital office's mailbox subsystem, CLASS/MEMBER/SUBSYSTEM


def country_of(database: Database) -> Country:
    """Who is who in the seeded country."""
    with database.reading() as session:
        codes = [
            row[0]
            for row in session.execute(
                text(
                    "SELECT personal_code FROM person WHERE date_of_death IS NULL "
                    "ORDER BY id LIMIT 2"
                )
            )
        ]
    social, tax, office = (
        organisation("social-insurance"),
        organisation("tax-board"),
        organisation("digital-office"),
    )
    return Country(
        social=f"GOV/{social.member_code}",
        tax=f"GOV/{tax.member_code}",
        person=codes[0],
        other=codes[1],
        mailbox=f"GOV/{office.member_code}/mailbox",
    )
