"""Helpers of the portal's tests: a birth through civil registration's public entry point,
reacted to by the proactive services (so the parents have entitlements and letters)."""

from __future__ import annotations

from datetime import date

from joinedup.core.db import Database
from joinedup.exchange import exchange_client


def register_birth(database: Database, *, mother: str, born: date) -> str:
    """Record a birth as the registrar and let the proactive services react (the births
    handler, run as its consumer would); returns the child's personal code."""
    from joinedup.demo.births import Birth, register_births

    (child,) = register_births(database, [Birth(parents=(mother,), born=born)])
    return child


def send_decision_letter(
    database: Database,
    recipient: str,
    reference: str,
    *,
    subject: str = "Your child benefit",
    paragraph: str = "We granted you the child benefit from next month.",
) -> str:
    """A decision letter from the social insurance agency to ``recipient``'s mailbox;
    returns its message id."""
    from joinedup import notify
    from joinedup.demo.agencies import organisation

    sib = organisation("social-insurance")
    with database.unit_of_work() as session:
        sent = notify.send_letter(
            session,
            recipient_code=recipient,
            sender=f"{sib.member_class}/{sib.member_code}",
            kind="decision",
            subject=subject,
            paragraphs=[paragraph],
            reference=reference,
            actor="test",
        )
    return str(sent.message_id)


def grant_everything(database: Database, *, grantor: str, grantor_name: str, grantee: str) -> str:
    """A power of attorney for everything from today, given by ``grantor`` to ``grantee`` as
    the portal would record it; returns its reference."""
    from joinedup import identity
    from joinedup.core.clock import today
    from joinedup.core.settings import get_settings

    with (
        database.unit_of_work() as session,
        exchange_client(session, client=get_settings().portal_subsystem, user_id=grantor) as calls,
    ):
        power = identity.grant_power_of_attorney(
            session,
            grantor_code=grantor,
            grantor_name=grantor_name,
            grantee_code=grantee,
            everything=True,
            services=[],
            data_categories=[],
            valid_from=today(),
            valid_to=None,
            calls=calls,
            actor="test",
        )
    return power.reference
