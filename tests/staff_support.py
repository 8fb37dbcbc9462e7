"""A signed-in member of staff, for the tests of staff APIs and pages."""

from __future__ import annotations

from datetime import timedelta

from joinedup import identity
from joinedup.core.clock import utcnow
from joinedup.core.db import Database
from joinedup.demo import organisation


def operator_session(database: Database) -> tuple[str, str]:
    """A signed-in member of the Central Digital Office's staff: (cookie token, CSRF token)."""
    office = organisation("digital-office")
    with database.unit_of_work() as session:
        staff = identity.staff_of(session, member_class="GOV", member_code=office.member_code)
        assert staff
        token, record = identity.start_web_session(
            session,
            identity=identity.VerifiedIdentity(
                personal_code=staff[0].personal_code,
                given_names="Office",
                family_name="Operator",
                level_of_assurance=identity.LevelOfAssurance.SUBSTANTIAL,
                methods=("pwd", "otp"),
                authenticated_at=utcnow(),
                issuer="test",
                id_token="",
            ),
            lifetime=timedelta(hours=1),
        )
    return token, record.csrf_secret
