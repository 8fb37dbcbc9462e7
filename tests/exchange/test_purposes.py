"""The purposes of the access rights in words: described per language by the exchange's
administrator, shown as the "why" of each data-usage record; bad descriptions are refused and
write nothing; a purpose nobody described stands for itself."""

from __future__ import annotations

import json
from typing import Any

import pytest
from fastapi.testclient import TestClient
from rights_support import bearer, demo_exchange  # noqa: F401 (fixture)
from sqlalchemy import func, select

from joinedup.core import i18n
from joinedup.core.db import Database
from joinedup.demo.exchange_policy import demo_rights
from joinedup.demo.purposes import DEMO_PURPOSES
from joinedup.exchange import purpose_names
from joinedup.exchange.models import Purpose

ADMIN = "digital-office/exchange-admin"


def _count(database: Database) -> int:
    with database.reading() as session:
        return int(session.scalar(select(func.count()).select_from(Purpose)) or 0)


def test_every_purpose_of_the_demo_rights_is_in_words_in_each_language(
    demo_exchange: Database,  # noqa: F811
) -> None:
    used = {grant.purpose for right in demo_rights() for grant in right.purposes}
    assert used <= set(DEMO_PURPOSES)
    with demo_exchange.reading() as session:
        english = purpose_names(session, used)
        with i18n.use_locale("et"):
            estonian = purpose_names(session, used)
        unknown = purpose_names(session, ["home-care", ""])
    assert english["benefit-eligibility"] == "Checking whether you are entitled to a benefit"
    assert estonian["benefit-eligibility"] == "Kontrolliti, kas teil on õigus toetusele"
    assert all(english[code] != code and estonian[code] != code for code in used)
    assert unknown == {"home-care": "home-care"}  # nobody described it: the code itself


def test_the_administrator_describes_a_purpose(
    api: TestClient,
    demo_exchange: Database,  # noqa: F811
) -> None:
    admin = bearer(api, ADMIN)
    url = "/api/v1/exchange/purposes/home-care"
    assert api.get(url, headers=admin).status_code == 404
    first = api.put(url, json={"names": {"en": " Care at home "}}, headers=admin)
    assert first.status_code == 200, first.text
    assert first.json()["names"] == {"en": "Care at home"}  # trimmed
    assert first.json()["described_by"].startswith("client:")
    with demo_exchange.reading() as session:  # the directory snapshot has it now
        assert purpose_names(session, ["home-care"]) == {"home-care": "Care at home"}
    again = api.put(
        url, json={"names": {"en": "Care in your home", "et": "Koduhooldus"}}, headers=admin
    )
    assert again.json()["names"] == {"en": "Care in your home", "et": "Koduhooldus"}
    assert api.get(url, headers=admin).json()["names"]["et"] == "Koduhooldus"
    listed = api.get("/api/v1/exchange/purposes", params={"limit": 500}, headers=admin).json()
    codes = [p["code"] for p in listed["items"]]
    assert "home-care" in codes
    assert codes == sorted(codes)
    with demo_exchange.reading() as session, i18n.use_locale("et"):
        assert purpose_names(session, ["home-care"]) == {"home-care": "Koduhooldus"}
    with demo_exchange.reading() as session, i18n.use_locale("da"):
        # a language it was not described in: English
        assert purpose_names(session, ["home-care"]) == {"home-care": "Care in your home"}


def test_only_the_administrator_describes_purposes(
    api: TestClient,
    demo_exchange: Database,  # noqa: F811
) -> None:
    before = _count(demo_exchange)
    body = {"names": {"en": "Anything"}}
    url = "/api/v1/exchange/purposes/benefit-eligibility"
    assert api.put(url, json=body).status_code == 401
    other = bearer(api, "social-insurance/benefits")
    refused = api.put(url, json=body, headers=other)
    assert refused.status_code == 403
    assert refused.headers["content-type"] == "application/problem+json"
    assert api.get("/api/v1/exchange/purposes", headers=other).status_code == 403
    assert _count(demo_exchange) == before
    with demo_exchange.reading() as session:
        assert purpose_names(session, ["benefit-eligibility"]) == {
            "benefit-eligibility": "Checking whether you are entitled to a benefit"
        }


@pytest.mark.parametrize(
    ("code", "body", "fragment"),
    [
        ("Home Care", {"names": {"en": "Care at home"}}, "lower-case"),
        ("home-care", {"names": {"et": "Koduhooldus"}}, "needs the English text"),
        ("home-care", {"names": {"en": "Care", "xx": "?"}}, "names.xx"),
        ("home-care", {"names": {"en": "   "}}, "needs the English text"),
        ("home-care", {"names": {"en": "x" * 201}}, "1 to 200 characters"),
        ("home-care", {"names": {"en": "Care"}, "colour": "red"}, "colour"),
        ("home-care", {"names": "Care at home"}, "names"),
        ("home-care", {}, "names"),
    ],
)
def test_bad_descriptions_are_refused_and_write_nothing(
    api: TestClient,
    demo_exchange: Database,  # noqa: F811
    code: str,
    body: dict[str, Any],
    fragment: str,
) -> None:
    admin = bearer(api, ADMIN)
    before = _count(demo_exchange)
    answer = api.put(f"/api/v1/exchange/purposes/{code}", json=body, headers=admin)
    assert answer.status_code == 422, answer.text
    assert answer.headers["content-type"] == "application/problem+json"
    assert fragment in json.dumps(answer.json())
    assert _count(demo_exchange) == before
