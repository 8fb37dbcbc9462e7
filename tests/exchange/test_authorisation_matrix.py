"""The authorisation matrix: every demo member × subsystem × service × purpose.

The expected answer is computed from the demo policy as written (``demo_rights()``), not from
the database: ``authorize`` must allow exactly what the policy allows, with exactly the
right's fields, and refuse everything else with the right reason. Then the same through
tokens: every demo client's token authenticates as exactly its own subsystem.
"""

from __future__ import annotations

from datetime import timedelta

import pytest
from rights_support import (
    INSTANCE,
    credentials,
    demo_exchange,  # noqa: F401 (fixture)
    descriptor,
    identity,
    service_ref,
)

from joinedup.core.clock import today
from joinedup.core.db import Database
from joinedup.core.errors import NotFound
from joinedup.core.pagination import PageRequest
from joinedup.demo import organisations
from joinedup.demo.exchange_policy import USAGE_SERVICE, DemoRight, demo_rights
from joinedup.demo.exchange_setup import demo_clients
from joinedup.exchange import (
    REGISTRY_SERVICES,
    WRITE_SERVICES,
    AccessDenied,
    authenticate_client,
    authorize,
    issue_access_token,
    list_access_rights,
    resolve_service,
)

SERVICES = [*REGISTRY_SERVICES, *WRITE_SERVICES, USAGE_SERVICE]
POLICY_PURPOSES = sorted({p.purpose for r in demo_rights() for p in r.purposes})
UNKNOWN_PURPOSES = ["marketing", "curiosity", "CHILD-BENEFIT", "child-benefit "]
SUBSYSTEMS = [(o.key, code) for o in organisations() for code, _ in o.subsystems]


def _expected(
    client: tuple[str, str], service: str, purpose: str | None
) -> tuple[str, DemoRight | None]:
    if not purpose or not purpose.strip():
        return "no-purpose", None
    rights = [r for r in demo_rights() if r.client == client and r.service == service]
    if not rights:
        return "no-right", None
    matching = [r for r in rights if purpose in {p.purpose for p in r.purposes}]
    if not matching:
        return "purpose-not-allowed", None
    assert len(matching) == 1, "the demo policy names each purpose once per client and service"
    return "allowed", matching[0]


@pytest.mark.parametrize(
    ("org_key", "subsystem"), SUBSYSTEMS, ids=[f"{o}/{s}" for o, s in SUBSYSTEMS]
)
def test_every_purpose_of_every_service(
    demo_exchange: Database,  # noqa: F811
    org_key: str,
    subsystem: str,
) -> None:
    on = today()
    allowed_seen = 0
    with demo_exchange.reading() as session:
        client = identity(session, org_key, subsystem)
        for code in SERVICES:
            service = descriptor(session, code)
            for purpose in [None, "", *POLICY_PURPOSES, *UNKNOWN_PURPOSES]:
                outcome, right = _expected((org_key, subsystem), code, purpose)
                if outcome != "allowed":
                    with pytest.raises(AccessDenied) as refused:
                        authorize(
                            session,
                            client=client,
                            service=service,
                            purpose=purpose,
                            fields=None,
                            on=on,
                        )
                    assert refused.value.reason == outcome, (code, purpose)
                    assert refused.value.status == 403
                    continue
                assert right is not None
                allowed_seen += 1
                granted = authorize(
                    session, client=client, service=service, purpose=purpose, fields=None, on=on
                )
                assert set(granted.fields) == set(right.fields), (code, purpose)
                assert set(granted.fields) <= set(service.fields)
                basis = next(p for p in right.purposes if p.purpose == purpose)
                assert granted.purpose == purpose
                assert granted.legal_basis == basis.legal_basis
                if right.law_enforcement_delay_days is not None:
                    assert granted.law_enforcement
                    assert granted.hidden_until == on + timedelta(
                        days=right.law_enforcement_delay_days
                    )
                else:
                    assert not granted.law_enforcement
                    assert granted.hidden_until is None
                municipality = next(
                    o for o in organisations() if o.key == org_key
                ).municipality_code
                assert granted.residents_of == (municipality if right.own_residents_only else None)
                _check_field_requests(session, client, service, purpose, right)
    expected_allowed = sum(
        len(r.purposes) for r in demo_rights() if r.client == (org_key, subsystem)
    )
    assert allowed_seen == expected_allowed


def _check_field_requests(session, client, service, purpose, right: DemoRight) -> None:  # type: ignore[no-untyped-def]
    on = today()
    one = right.fields[0]
    assert authorize(
        session, client=client, service=service, purpose=purpose, fields=[one], on=on
    ).fields == (one,)
    exact = authorize(
        session, client=client, service=service, purpose=purpose, fields=list(right.fields), on=on
    )
    assert set(exact.fields) == set(right.fields)
    extra = [f for f in service.fields if f not in right.fields]
    if extra:
        with pytest.raises(AccessDenied) as refused:
            authorize(
                session,
                client=client,
                service=service,
                purpose=purpose,
                fields=list(service.fields),
                on=on,
            )
        assert refused.value.reason == "fields-not-allowed"
        assert refused.value.extensions["fields"] == sorted(extra)
    with pytest.raises(AccessDenied) as unknown:
        authorize(
            session,
            client=client,
            service=service,
            purpose=purpose,
            fields=[one, "secretField"],
            on=on,
        )
    assert unknown.value.reason == "fields-not-allowed"
    assert unknown.value.extensions["fields"] == ["secretField"]


def test_rights_before_they_start_are_refused(demo_exchange: Database) -> None:  # noqa: F811
    with demo_exchange.reading() as session:
        client = identity(session, "social-insurance", "benefits")
        service = descriptor(session, "person")
        with pytest.raises(AccessDenied) as refused:
            authorize(
                session,
                client=client,
                service=service,
                purpose="child-benefit",
                fields=None,
                on=today().replace(year=1999),
            )
        assert refused.value.reason == "right-expired"


def test_stored_rights_never_exceed_the_policy(demo_exchange: Database) -> None:  # noqa: F811
    """The database holds the policy exactly: no right more, no field more."""
    policy = {
        (
            str(service_ref(r.service)),
            tuple(sorted(r.fields)),
            tuple(sorted(p.purpose for p in r.purposes)),
        )
        for r in demo_rights()
    }
    stored = set()
    with demo_exchange.reading() as session:
        page = list_access_rights(session, page=PageRequest(limit=500))
        assert page.next_cursor is None
        for right in page.items:
            service = right.service.split("/", 1)[1]
            stored.add(
                (
                    service,
                    tuple(sorted(right.fields)),
                    tuple(sorted(p.purpose for p in right.purposes)),
                )
            )
    assert stored == policy
    assert len(page.items) == len(demo_rights())


def test_guessed_service_identifiers_are_not_found(demo_exchange: Database) -> None:  # noqa: F811
    ref = service_ref("person")
    guesses = [
        (INSTANCE, ref.member_class, ref.member_code, ref.subsystem_code, "people"),
        (INSTANCE, ref.member_class, ref.member_code, "addresses", "person"),
        (INSTANCE, "COM", ref.member_code, ref.subsystem_code, "person"),
        (INSTANCE, ref.member_class, "70000000", ref.subsystem_code, "person"),
        ("EE", ref.member_class, ref.member_code, ref.subsystem_code, "person"),
        (INSTANCE, ref.member_class, ref.member_code, ref.subsystem_code, "Person"),
    ]
    with demo_exchange.reading() as session:
        for instance, member_class, member_code, subsystem, code in guesses:
            with pytest.raises(NotFound):
                resolve_service(
                    session,
                    instance=instance,
                    member_class=member_class,
                    member_code=member_code,
                    subsystem_code=subsystem,
                    service_code=code,
                )


def test_every_demo_token_is_its_own_subsystem(demo_exchange: Database) -> None:  # noqa: F811
    tokens = {}
    with demo_exchange.unit_of_work() as session:
        for org_key, subsystem in demo_clients():
            client_id, secret = credentials(f"{org_key}/{subsystem}")
            tokens[(org_key, subsystem)] = issue_access_token(
                session, client_id=client_id, client_secret=secret
            ).access_token
    with demo_exchange.reading() as session:
        for (org_key, subsystem), token in tokens.items():
            client = authenticate_client(session, authorization=f"Bearer {token}")
            assert client == identity(session, org_key, subsystem)
    # One client's secret is no other client's.
    with demo_exchange.unit_of_work() as session:
        police_id, _ = credentials("police/investigations")
        _, bank_secret = credentials("bank/payments")
        from joinedup.exchange.oauth import InvalidClient

        with pytest.raises(InvalidClient):
            issue_access_token(session, client_id=police_id, client_secret=bank_secret)
