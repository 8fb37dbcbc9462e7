"""The registry services: only authorised fields, the right data subjects, bad input refused."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date, timedelta
from typing import Any

import pytest
from rights_support import (
    demo_country,  # noqa: F401 (fixture)
    descriptor,
    identity,
)
from sqlalchemy import text
from sqlalchemy.orm import Session

from joinedup.core.clock import today
from joinedup.core.db import Database
from joinedup.core.errors import DomainError, NotFound, ValidationFailed
from joinedup.exchange import (
    REGISTRY_SERVICES,
    Authorization,
    ProviderResponse,
    authorize,
    call_registry_service,
)


def _call(
    session: Session,
    org: tuple[str, str],
    code: str,
    purpose: str,
    query: Mapping[str, str],
    *,
    method: str = "GET",
    path: str = "",
    body: bytes | None = None,
) -> ProviderResponse:
    service = descriptor(session, code)
    granted = authorize(
        session,
        client=identity(session, *org),
        service=service,
        purpose=purpose,
        fields=None,
        on=today(),
    )
    return call_registry_service(
        session,
        service=service,
        method=method,
        path=path,
        query=query,
        body=body,
        authorization=granted,
    )


def _full(code: str) -> Authorization:
    """An authorisation for every field of a service (to see the whole answer)."""
    return Authorization(
        right_id=0,
        purpose="test",
        legal_basis="test",
        fields=REGISTRY_SERVICES[code].field_names,
        law_enforcement=False,
        hidden_until=None,
    )


def _one(session: Session, sql: str) -> Any:
    value = session.execute(text(sql)).scalar()
    assert value is not None, sql
    return value


def _parent_with_child(session: Session) -> tuple[str, str]:
    row = session.execute(
        text(
            "SELECT p.personal_code, c.personal_code FROM relation r "
            "JOIN person p ON p.id = r.person_id JOIN person c ON c.id = r.related_person_id "
            "WHERE r.kind = 'parent' AND r.superseded_at IS NULL ORDER BY r.id LIMIT 1"
        )
    ).one()
    return row[0], row[1]


SIB = ("social-insurance", "benefits")


def test_person_answers_the_authorised_fields_only(demo_country: Database) -> None:  # noqa: F811
    with demo_country.reading() as session:
        code = _one(session, "SELECT personal_code FROM person ORDER BY id LIMIT 1")
        pension = _call(session, SIB, "person", "old-age-pension", {"personalCode": code})
        assert set(pension.body) == {"personalCode", "birthDate", "dateOfDeath"}
        assert pension.fields == ("personalCode", "birthDate", "dateOfDeath")
        assert pension.data_subjects == (code,)
        assert pension.body["personalCode"] == code
        child = _call(session, SIB, "person", "child-benefit", {"personalCode": code})
        assert "givenNames" in child.body
        assert "sex" not in child.body
        full = call_registry_service(
            session,
            service=descriptor(session, "person"),
            method="GET",
            path="/",
            query={"personalCode": code},
            body=None,
            authorization=_full("person"),
        )
        assert set(full.body) == set(REGISTRY_SERVICES["person"].field_names)
        assert full.body["birthDate"] == pension.body["birthDate"]


def test_relations_name_every_relative_as_a_data_subject(demo_country: Database) -> None:  # noqa: F811
    with demo_country.reading() as session:
        parent, child = _parent_with_child(session)
        answer = _call(session, SIB, "relations", "child-benefit", {"personalCode": parent})
        assert set(answer.body) == {"parents", "children"}
        children = [c["personalCode"] for c in answer.body["children"]]
        assert child in children
        assert all(
            set(c) == {"personRef", "personalCode", "birthDate", "validFrom", "validTo"}
            for c in answer.body["children"]
        )
        refs = dict(session.execute(text("SELECT personal_code, id FROM person")).all())
        # each relative's register reference, as the register's events name persons
        assert all(c["personRef"] == refs[c["personalCode"]] for c in answer.body["children"])
        assert answer.data_subjects[0] == parent
        assert set(children) <= set(answer.data_subjects)
        up = _call(session, SIB, "relations", "child-benefit", {"personalCode": child})
        assert parent in [p["personalCode"] for p in up.body["parents"]]
        police = _call(
            session,
            ("police", "investigations"),
            "relations",
            "criminal-investigation",
            {"personalCode": parent},
        )
        assert "partners" in police.body


def test_municipalities_read_their_own_residents_only(demo_country: Database) -> None:  # noqa: F811
    with demo_country.reading() as session:
        row = session.execute(
            text(
                "SELECT p.personal_code, m.code FROM residence r "
                "JOIN person p ON p.id = r.person_id JOIN address a ON a.id = r.address_id "
                "JOIN municipality m ON m.id = a.municipality_id "
                "WHERE r.superseded_at IS NULL AND r.valid_to IS NULL ORDER BY r.id LIMIT 1"
            )
        ).one()
        code, municipality = row[0], row[1]
        own = ("municipality-" + municipality, "school-enrolment")
        answer = _call(session, own, "residence", "school-enrolment", {"personalCode": code})
        assert answer.body["municipalityCode"] == municipality
        assert set(answer.body) == {"address", "municipalityCode", "residentSince"}
        other = _one(
            session,
            f"SELECT code FROM municipality WHERE code <> '{municipality}' ORDER BY code LIMIT 1",
        )
        with pytest.raises(NotFound) as refused:
            _call(
                session,
                ("municipality-" + other, "school-enrolment"),
                "residence",
                "school-enrolment",
                {"personalCode": code},
            )
        assert "resident of your municipality" in refused.value.detail


def test_income_is_given_as_monthly_totals(demo_country: Database) -> None:  # noqa: F811
    with demo_country.reading() as session:
        person_id, code, period = session.execute(
            text(
                "SELECT i.person_id, p.personal_code, max(i.period) FROM monthly_income i "
                "JOIN person p ON p.id = i.person_id WHERE i.superseded_at IS NULL "
                "GROUP BY i.person_id, p.personal_code ORDER BY count(DISTINCT i.business_id) "
                "DESC, i.person_id LIMIT 1"
            )
        ).one()
        expected = _one(
            session,
            f"SELECT sum(amount) FROM monthly_income WHERE person_id = {person_id} "
            f"AND period = '{period}' AND superseded_at IS NULL",
        )
        answer = _call(
            session,
            ("unemployment-fund", "unemployment-benefits"),
            "income-totals",
            "means-tested-benefit",
            {"personalCode": code, "from": period, "to": period},
        )
        assert answer.body["monthlyTotals"] == [
            {"month": period, "amount": expected, "currency": "EUR"}
        ]
        assert answer.body["total"]["amount"] == expected
        assert "employer" not in repr(answer.body).lower()
        year = _call(
            session,
            SIB,
            "income-totals",
            "means-tested-benefit",
            {"personalCode": code, "to": period},
        )
        assert len(year.body["monthlyTotals"]) == 12
        assert year.body["monthlyTotals"][-1]["month"] == period


def test_employments_by_the_fields_of_the_right(demo_country: Database) -> None:  # noqa: F811
    with demo_country.reading() as session:
        code = _one(
            session,
            "SELECT p.personal_code FROM employment e JOIN person p ON p.id = e.person_id "
            "WHERE e.superseded_at IS NULL ORDER BY e.id LIMIT 1",
        )
        tax = _call(session, ("tax-board", "tax"), "employment", "taxation", {"personalCode": code})
        assert tax.body["employments"]
        assert set(tax.body["employments"][0]) == {
            "employerCode",
            "employerName",
            "startDate",
            "endDate",
        }
        health = _call(
            session,
            ("health-fund", "health-insurance"),
            "employment",
            "health-insurance",
            {"personalCode": code},
        )
        assert set(health.body["employments"][0]) == {"employerCode", "startDate", "endDate"}
        assert len(health.body["employments"]) == len(tax.body["employments"])


def test_businesses_and_their_representatives(demo_country: Database) -> None:  # noqa: F811
    with demo_country.reading() as session:
        registration, representative = session.execute(
            text(
                "SELECT b.registration_code, p.personal_code FROM business_representative r "
                "JOIN business b ON b.id = r.business_id JOIN person p ON p.id = r.person_id "
                "WHERE r.superseded_at IS NULL AND r.valid_to IS NULL ORDER BY r.id LIMIT 1"
            )
        ).one()
        bank = _call(
            session,
            ("bank", "payments"),
            "business",
            "customer-due-diligence",
            {"registrationCode": registration},
        )
        assert "representatives" not in bank.body
        assert bank.body["registrationCode"] == registration
        assert bank.data_subjects == ()
        full = call_registry_service(
            session,
            service=descriptor(session, "business"),
            method="GET",
            path="",
            query={"registrationCode": registration},
            body=None,
            authorization=_full("business"),
        )
        assert representative in [r["personalCode"] for r in full.body["representatives"]]
        assert representative in full.data_subjects


def test_payment_account(demo_country: Database) -> None:  # noqa: F811
    with demo_country.reading() as session:
        code, iban = session.execute(
            text(
                "SELECT p.personal_code, a.iban FROM payment_account a "
                "JOIN person p ON p.id = a.person_id WHERE a.superseded_at IS NULL "
                "AND a.valid_to IS NULL ORDER BY a.id LIMIT 1"
            )
        ).one()
        answer = _call(session, SIB, "payment-account", "child-benefit", {"personalCode": code})
        assert answer.body == {"iban": iban}


def test_bitemporal_questions(demo_country: Database) -> None:  # noqa: F811
    with demo_country.reading() as session:
        code, since = session.execute(
            text(
                "SELECT p.personal_code, r.valid_from FROM residence r "
                "JOIN person p ON p.id = r.person_id WHERE r.superseded_at IS NULL "
                "AND r.valid_from > p.birth_date ORDER BY r.id LIMIT 1"
            )
        ).one()
        since = date.fromisoformat(since) if isinstance(since, str) else since
        police = ("police", "investigations")
        before = _call(
            session,
            police,
            "residence",
            "criminal-investigation",
            {"personalCode": code, "asOf": (since - timedelta(days=1)).isoformat()},
        )
        now = _call(session, police, "residence", "criminal-investigation", {"personalCode": code})
        assert now.body["residentSince"] == since.isoformat()
        assert before.body["residentSince"] != since.isoformat()
        with pytest.raises(NotFound):  # the register did not know the person a year ago
            _call(
                session,
                police,
                "person",
                "criminal-investigation",
                {"personalCode": code, "knownOn": (today() - timedelta(days=365)).isoformat()},
            )
        known = _call(
            session,
            police,
            "person",
            "criminal-investigation",
            {"personalCode": code, "knownOn": f"{today().isoformat()}T23:59:59+00:00"},
        )
        assert known.body["personalCode"] == code


@pytest.mark.parametrize(
    ("query", "kwargs", "error", "fragment"),
    [
        ({}, {}, ValidationFailed, "personalCode is required"),
        ({"personalCode": "12345678901"}, {}, ValidationFailed, "not a valid personal code"),
        ({"personalCode": "{valid}", "asOf": "2025-13-01"}, {}, ValidationFailed, "asOf"),
        ({"personalCode": "{valid}", "knownOn": "2025-01-01T10:00:00"}, {}, ValidationFailed,
         "time zone"),
        ({"personalCode": "{valid}", "knownOn": "yesterday"}, {}, ValidationFailed, "knownOn"),
        ({"personalCode": "{valid}"}, {"method": "POST"}, DomainError, "GET only"),
        ({"personalCode": "{valid}"}, {"path": "/children"}, NotFound, "no resource"),
        ({"personalCode": "{valid}"}, {"body": b"{}"}, ValidationFailed, "must be empty"),
        ({"personalCode": "{unknown}"}, {}, NotFound, "no person has this personal code"),
    ],
)  # fmt: skip
def test_bad_questions(
    demo_country: Database,  # noqa: F811
    query: dict[str, str],
    kwargs: dict[str, Any],
    error: type[Exception],
    fragment: str,
) -> None:
    from joinedup.registries import issue_personal_codes

    with demo_country.reading() as session:
        valid = _one(session, "SELECT personal_code FROM person ORDER BY id LIMIT 1")
        unknown = _unknown_code(session, issue_personal_codes)
        filled = {k: v.format(valid=valid, unknown=unknown) for k, v in query.items()}
        with pytest.raises(error) as refused:
            _call(session, SIB, "person", "child-benefit", filled, **kwargs)
        assert fragment in str(refused.value)


def _unknown_code(session: Session, issue: Any) -> str:
    import numpy as np

    from joinedup.registries import is_valid_personal_code

    for rank in range(10):
        codes = issue(
            np.array(["1890-01-01"], dtype="datetime64[D]"), np.array(["F"]), np.array([rank])
        )
        code = str(codes[0])
        if (
            is_valid_personal_code(code)
            and not session.execute(
                text("SELECT 1 FROM person WHERE personal_code = :c"), {"c": code}
            ).first()
        ):
            return code
    raise AssertionError("no free personal code")


def test_income_ranges_are_checked(demo_country: Database) -> None:  # noqa: F811
    with demo_country.reading() as session:
        code = _one(session, "SELECT personal_code FROM person ORDER BY id LIMIT 1")
        for query in (
            {"from": "2025-06", "to": "2025-01"},
            {"from": "2020-01", "to": "2025-01"},
            {"from": "2025-1", "to": "2025-03"},
        ):
            with pytest.raises(ValidationFailed):
                _call(
                    session,
                    SIB,
                    "income-totals",
                    "means-tested-benefit",
                    {"personalCode": code, **query},
                )
