"""The entitlements API of the front doors: a person's own (the portal's "My entitlements"),
their decisions (CSRF-protected), and an agency's staff reading one person's entitlements
from their agency's services."""

from __future__ import annotations

import importlib.util
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
from fastapi.testclient import TestClient
from proactive_support import SIB, born_to

from joinedup.core.db import Database
from joinedup.core.settings import Settings
from joinedup.identity import forget_provider_metadata
from joinedup.web import create_app


def _identity_support() -> ModuleType:
    """The identity tests' sign-in helpers (loaded by path: no change to ``sys.path``, where
    another directory's ``conftest`` would shadow the suite's)."""
    if "identity_support" in sys.modules:
        return sys.modules["identity_support"]
    path = Path(__file__).parents[1] / "identity" / "identity_support.py"
    spec = importlib.util.spec_from_file_location("identity_support", path)
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules["identity_support"] = module
    spec.loader.exec_module(module)
    return module


_support = _identity_support()
csrf_of, load_world, sign_in, staff_roles = (
    _support.csrf_of,
    _support.load_world,
    _support.sign_in,
    _support.staff_roles,
)

BROWSER = {"accept": "text/html,application/xhtml+xml,*/*;q=0.8"}
JSON = {"accept": "application/json"}
PROBLEM = "application/problem+json"


@pytest.fixture
def web(seeded: Database, tmp_path: Path) -> Iterator[TestClient]:
    forget_provider_metadata()
    settings = Settings(
        environment="test",
        data_dir=tmp_path / "var",
        public_url="http://testserver",
        log_format="console",
    )
    app = create_app(settings, database=seeded)
    with TestClient(app, headers=BROWSER) as client:
        app.state.oidc_http = client
        yield client
    forget_provider_metadata()


def _mother(world: Any) -> str:
    """A demo account of a woman of child-bearing age (even first digit: female)."""
    for account in world.accounts:
        code = account.personal_code
        year = (1800 if code[0] in "12" else 1900 if code[0] in "34" else 2000) + int(code[1:3])
        if int(code[0]) % 2 == 0 and 1982 <= year <= 2000:
            return code
    raise AssertionError("no demo account of a woman born 1982-2000")


def test_my_entitlements_and_my_decision(web: TestClient, seeded: Database) -> None:
    world = load_world(seeded)
    code = _mother(world)
    account = next(a for a in world.accounts if a.personal_code == code)
    born_to(seeded, code)

    assert web.get("/api/v1/me/entitlements", headers=JSON).status_code == 401
    sign_in(web, account)
    answer = web.get("/api/v1/me/entitlements", headers=JSON)
    assert answer.status_code == 200, answer.text
    mine = {e["service_code"]: e for e in answer.json()["items"]}
    assert {"child-benefit", "birth-grant", "parental-benefit"} <= set(mine)
    grant = mine["birth-grant"]
    assert grant["decisions"] == ["accept", "decline"]
    assert grant["person_code"] == code

    url = f"/api/v1/me/entitlements/{grant['id']}/decision"
    refused = web.post(url, json={"decision": "accept"}, headers=JSON)
    assert refused.status_code == 403  # no CSRF token
    assert refused.headers["content-type"] == PROBLEM
    token = {**JSON, "X-CSRF-Token": csrf_of(web)}
    bad = web.post(url, json={"decision": "maybe"}, headers=token)
    assert bad.status_code == 422
    assert bad.headers["content-type"] == PROBLEM
    accepted = web.post(url, json={"decision": "accept"}, headers=token)
    assert accepted.status_code == 200, accepted.text
    assert accepted.json()["status"] == "granted"
    assert [h["status"] for h in accepted.json()["history"]] == ["offered", "granted"]
    again = web.post(url, json={"decision": "decline"}, headers=token)
    assert again.status_code == 409
    assert again.headers["content-type"] == PROBLEM

    one = web.get(f"/api/v1/me/entitlements/{grant['id']}", headers=JSON)
    assert one.json()["status"] == "granted"
    missing = web.get(f"/api/v1/me/entitlements/{uuid.uuid4()}", headers=JSON)
    assert missing.status_code == 404
    assert missing.headers["content-type"] == PROBLEM
    offered = web.get("/api/v1/me/entitlements", params={"status": "offered"}, headers=JSON)
    assert "birth-grant" not in {e["service_code"] for e in offered.json()["items"]}


def _staff_with(database: Database, world: Any, roles: set[str]) -> Any:
    return next(
        a
        for a in world.tagged("staff")
        if {r for _, m, r in staff_roles(database, a.personal_code) if m == SIB.member_code}
        == roles
    )


def _usage_of(database: Database, code: str) -> list[Any]:
    from joinedup.core.pagination import PageRequest
    from joinedup.exchange import list_usage

    with database.reading() as session:
        return list_usage(session, subject_code=code, request=PageRequest(limit=500)).items


LOOKUPS = f"/api/v1/staff/GOV/{SIB.member_code}/entitlement-lookups"


def test_caseworkers_look_up_their_agency_s_entitlements_of_a_person_and_the_person_sees_it(
    web: TestClient, seeded: Database
) -> None:
    world = load_world(seeded)
    code = _mother(world)
    born_to(seeded, code)
    staff = next(
        a
        for a in world.tagged("staff")
        if any(
            m == SIB.member_code and r in {"caseworker", "supervisor"}
            for _, m, r in staff_roles(seeded, a.personal_code)
        )
    )
    sign_in(web, staff, means="password-otp", level="substantial")
    token = {**JSON, "X-CSRF-Token": csrf_of(web)}
    before = len(_usage_of(seeded, code))
    body = {"personal_code": code, "purpose": "benefit-eligibility", "case_reference": "C-17"}
    answer = web.post(LOOKUPS, json=body, headers=token)
    assert answer.status_code == 200, answer.text
    items = answer.json()["items"]
    assert {e["service_code"] for e in items} == {
        "child-benefit",
        "birth-grant",
        "parental-benefit",
    }
    assert all(e["owner_member_code"] == SIB.member_code for e in items)
    # the person sees who looked, for what and for which case
    usage = _usage_of(seeded, code)
    assert len(usage) == before + 1
    seen = usage[0]
    assert (seen.user_id, seen.purpose, seen.case_reference) == (
        staff.personal_code,
        "benefit-eligibility",
        "C-17",
    )
    assert tuple(seen.fields) == ("entitlements",)
    assert "Family Benefits Act 2019" in seen.legal_basis
    # the old address, with the personal code in it, is gone
    old = web.get(f"/api/v1/staff/GOV/{SIB.member_code}/persons/{code}/entitlements")
    assert old.status_code in (404, 405)


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"personal_code": "nonsense", "purpose": "benefit-eligibility"}, "personal_code"),
        ({"personal_code": "CODE", "purpose": "school-admission"}, "purpose"),  # not SIB's
        ({"personal_code": "CODE", "purpose": ""}, "purpose"),
    ],
)
def test_a_bad_lookup_is_refused_naming_the_field_and_records_nothing(
    web: TestClient, seeded: Database, body: dict[str, str], field: str
) -> None:
    world = load_world(seeded)
    code = _mother(world)
    body = {k: (code if v == "CODE" else v) for k, v in body.items()}
    staff = _staff_with(seeded, world, {"caseworker"})
    sign_in(web, staff, means="password-otp", level="substantial")
    token = {**JSON, "X-CSRF-Token": csrf_of(web)}
    before = len(_usage_of(seeded, code))
    answer = web.post(LOOKUPS, json=body, headers=token)
    assert answer.status_code == 422
    assert answer.headers["content-type"] == PROBLEM
    assert field in {e["field"] for e in answer.json()["errors"]}
    assert len(_usage_of(seeded, code)) == before


@pytest.mark.parametrize("who", ["analyst", "other-agency", "citizen"])
def test_only_the_agency_s_caseworkers_look_people_up(
    web: TestClient, seeded: Database, who: str
) -> None:
    world = load_world(seeded)
    code = _mother(world)
    born_to(seeded, code)
    if who == "analyst":
        account = _staff_with(seeded, world, {"analyst"})
        url = LOOKUPS
    elif who == "other-agency":
        account = _staff_with(seeded, world, {"caseworker"})
        url = "/api/v1/staff/GOV/70000214/entitlement-lookups"
    else:
        account = next(a for a in world.accounts if a.personal_code == code)
        url = LOOKUPS
    sign_in(web, account, means="password-otp", level="substantial")
    token = {**JSON, "X-CSRF-Token": csrf_of(web)}  # (a page: the citizen's own reads)
    before = len(_usage_of(seeded, code))
    answer = web.post(
        url, json={"personal_code": code, "purpose": "benefit-eligibility"}, headers=token
    )
    assert answer.status_code == 403
    assert answer.headers["content-type"] == PROBLEM
    assert len(_usage_of(seeded, code)) == before


def test_reasons_come_in_the_language_asked_for(web: TestClient, seeded: Database) -> None:
    world = load_world(seeded)
    code = _mother(world)
    account = next(a for a in world.accounts if a.personal_code == code)
    born_to(seeded, code)
    sign_in(web, account)

    def benefit(language: str) -> dict[str, Any]:
        answer = web.get("/api/v1/me/entitlements", headers={**JSON, "Accept-Language": language})
        assert answer.status_code == 200, answer.text
        (found,) = [e for e in answer.json()["items"] if e["service_code"] == "child-benefit"]
        return dict(found)

    english, estonian = benefit("en"), benefit("et")
    assert english["reason"].startswith("Eligible:")
    assert estonian["reason"].startswith("Õigus on olemas:")  # was English whatever was asked
    assert estonian["service_name"] == "Lapsetoetus"
    one = web.get(
        f"/api/v1/me/entitlements/{estonian['id']}", headers={**JSON, "Accept-Language": "et"}
    ).json()
    assert one["reason"] == estonian["reason"]
    assert one["history"][-1]["reason"] == estonian["reason"]
