"""Helpers for the identity tests: the seeded world's interesting people, and signing in
through the real flow (portal → provider's sign-in page → callback)."""

from __future__ import annotations

import re
import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

import httpx
import uvicorn
from fastapi import FastAPI

from joinedup.core.clock import today
from joinedup.core.db import Database
from joinedup.exchange import exchange_client
from joinedup.identity import children_in_care, staff_roles_of
from joinedup.identity.provider import provider_accounts
from joinedup.identity.provider.demo import demo_credentials
from joinedup.identity.service.credentials import totp
from joinedup.registries import (
    find_person_id,
    get_business,
    get_person,
    relations_of,
    representations_of,
)

SEED = 11
PORTAL = "GOV/70000579/portal"


@dataclass(frozen=True)
class Account:
    personal_code: str
    given_names: str
    family_name: str
    tags: tuple[str, ...]

    @property
    def credentials(self):  # type: ignore[no-untyped-def]
        return demo_credentials(
            SEED, personal_code=self.personal_code, given_names=self.given_names
        )


@dataclass
class World:
    accounts: list[Account]

    def tagged(self, tag: str) -> list[Account]:
        return [a for a in self.accounts if tag in a.tags]

    def one(self, tag: str) -> Account:
        return self.tagged(tag)[0]


def load_world(database: Database) -> World:
    with database.reading() as session:
        accounts = [
            Account(a.personal_code, a.given_names, a.family_name, tuple(a.tags))
            for a in provider_accounts(session)
        ]
    return World(accounts)


def form_value(html: str, name: str) -> str:
    found = re.search(rf'name="{name}" value="([^"]*)"', html)
    assert found is not None, f"no {name} in the page"
    return found.group(1)


def sign_in(
    client: httpx.Client,
    account: Account,
    *,
    means: str = "password",
    level: str = "low",
    return_to: str = "/portal",
) -> httpx.Response:
    """Sign in through the whole flow; returns the final response (after the callback)."""
    page = client.get("/portal/sign-in", params={"level": level, "return_to": return_to})
    assert page.status_code == 200, page.text
    assert "/idp/sign-in" in str(page.url)
    handle, csrf = form_value(page.text, "request"), form_value(page.text, "csrf_token")
    credentials = account.credentials
    if means == "card":
        data = {"means": "card", "personal_code": account.personal_code, "pin": credentials.pin}
    else:
        data = {"means": means, "username": credentials.username, "password": credentials.password}
    answer = client.post("/idp/sign-in", data={"request": handle, "csrf_token": csrf, **data})
    if means == "password-otp":
        assert "/idp/sign-in" in str(answer.url), answer.text
        code = demo_code(answer.text) or totp(credentials.otp_secret)
        answer = client.post(
            "/idp/sign-in/code", data={"request": handle, "csrf_token": csrf, "code": code}
        )
    return answer


def demo_code(html: str) -> str | None:
    """The one-time code the demo's code page shows: a code is accepted once, so signing the
    same account in twice within 30 seconds takes the next step's code, which it shows."""
    found = re.search(r'class="govuk-inset-text">[^<]*?\b(\d{6})\b', html)
    return found.group(1) if found else None


def csrf_of(client: httpx.Client) -> str:
    page = client.get("/portal/acting-for")
    assert page.status_code == 200, page.text
    return form_value(page.text, "csrf_token")


def minor_children(database: Database, parent: str) -> list[str]:
    with database.unit_of_work() as session, exchange_client(session, client=PORTAL) as calls:
        return [
            m.subject_code for m in children_in_care(session, calls, actor_code=parent, on=today())
        ]


def adult_children(database: Database, parent: str) -> list[str]:
    """The parent's living children who are 18 or older (straight from the register)."""
    with database.reading() as session:
        me = find_person_id(session, personal_code=parent)
        found = []
        for relation in relations_of(session, person_id=me):
            if relation.kind == "parent" and relation.person_id == me:
                child = get_person(session, person_id=relation.related_person_id)
                age = (today() - child.birth_date).days / 365.25
                if age >= 18.1 and child.date_of_death is None:
                    found.append(child.personal_code)
        return found


def businesses_of(database: Database, person: str) -> list[str]:
    with database.reading() as session:
        me = find_person_id(session, personal_code=person)
        return [
            get_business(session, business_id=r.business_id).registration_code
            for r in representations_of(session, person_id=me)
        ]


def staff_roles(database: Database, person: str) -> list[tuple[str, str, str]]:
    with database.reading() as session:
        return [
            (r.member_class, r.member_code, str(r.role))
            for r in staff_roles_of(session, personal_code=person)
        ]


@contextmanager
def served(app: FastAPI, port: int) -> Iterator[str]:
    """``app`` served by uvicorn on 127.0.0.1:``port`` in a thread, as a browser reaches it."""
    config = uvicorn.Config(
        app, host="127.0.0.1", port=port, log_config=None, access_log=False, lifespan="on"
    )
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started:
        if time.monotonic() > deadline or not thread.is_alive():
            raise RuntimeError("uvicorn did not start")
        time.sleep(0.05)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=20)


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port
