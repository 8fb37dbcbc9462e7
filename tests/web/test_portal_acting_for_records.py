"""The acting-for switcher's reads of the registers are on record whatever comes of them: the
page reads in a read-only transaction and its records go with the web process's group commit,
committed before the page is answered; a read refused, a choice refused and a mandate the
registers cannot confirm leave the reads made on record (and nobody acts on a mandate nobody
could check)."""

from __future__ import annotations

import re
from datetime import timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient
from identity_support import csrf_of, load_world, minor_children, sign_in
from sqlalchemy import func, select, update

from joinedup.core.clock import utcnow
from joinedup.core.db import Database
from joinedup.exchange.records import DataUsageRecord, MessageLogRecord
from joinedup.identity.models import WebSession

PURPOSE = "mandate-check"


def _count(database: Database, record: Any, user: str, *where: Any) -> int:
    """How many ``record`` rows (data usage, message log) the mandate checks of ``user`` left."""
    with database.reading() as session:
        found = session.scalar(
            select(func.count())
            .select_from(record)
            .where(record.purpose == PURPOSE, record.user_id == user, *where)
        )
    return int(found or 0)


def _reads(database: Database, user: str) -> int:
    return _count(database, DataUsageRecord, user)


def _refusals(database: Database, user: str) -> int:
    return _count(database, MessageLogRecord, user, MessageLogRecord.error_type.is_not(None))


@pytest.fixture
def refused_service(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Registry service codes whose mandate-check reads the exchange refuses (an unknown
    service of the register's owner, as when the portal has lost its right)."""
    import joinedup.identity.service.mandates as mandates

    refused: list[str] = []
    found = mandates.registry_service

    def refusing(session: object, code: str) -> str:
        name = found(session, code)  # type: ignore[arg-type]
        return f"{name.rsplit('/', 1)[0]}/no-{code}" if code in refused else name

    monkeypatch.setattr(mandates, "registry_service", refusing)
    return refused


def test_the_switcher_s_reads_are_committed_with_the_group_commit_before_the_page(
    web: TestClient, seeded: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    from joinedup.core.keys import load_log_signing_key
    from joinedup.core.settings import get_settings
    from joinedup.exchange import ExchangeClient, recorder_of

    recorder = recorder_of(web.app)
    assert recorder is not None
    assert recorder.running
    # the seeded log is signed with the process's key: the recorder takes the page's records
    # only when it signs with the same one (see the overview's test)
    app_key, recorder.signer = recorder.signer, load_log_signing_key(get_settings())
    in_transaction: list[bool] = []
    commit_records = ExchangeClient.commit_records

    def watched(self: ExchangeClient, *args: object, **kwargs: object) -> None:
        in_transaction.append(self.session.in_transaction())
        commit_records(self, *args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(ExchangeClient, "commit_records", watched)
    try:
        parent = load_world(seeded).one("parent-of-minor")
        (child, *_) = minor_children(seeded, parent.personal_code)
        sign_in(web, parent)
        before, taken = _reads(seeded, parent.personal_code), recorder.recordings
        page = web.get("/portal/acting-for")
        assert page.status_code == 200
        assert child in page.text
        read = _reads(seeded, parent.personal_code) - before
        assert read >= 2  # the parent's relations, the child's facts
        assert recorder.recordings - taken >= 2  # through the recorder
        assert in_transaction == [False]  # the read snapshot ended before the wait
    finally:
        recorder.signer = app_key


def test_a_refused_read_leaves_what_was_read_before_it_on_record(
    web: TestClient, seeded: Database, refused_service: list[str]
) -> None:
    parent = load_world(seeded).one("parent-of-minor")
    sign_in(web, parent)
    refused_service.append("representations")  # read after the children
    before = _reads(seeded, parent.personal_code), _refusals(seeded, parent.personal_code)
    page = web.get("/portal/acting-for")
    assert page.status_code == 403
    assert _reads(seeded, parent.personal_code) > before[0]  # the children's reads
    assert _refusals(seeded, parent.personal_code) == before[1] + 1  # and the refusal


def test_a_refused_choice_leaves_its_reads_on_record(web: TestClient, seeded: Database) -> None:
    world = load_world(seeded)
    parent, stranger = world.one("parent-of-minor"), world.one("young-adult")
    sign_in(web, parent)
    before = _reads(seeded, parent.personal_code)
    answer = web.post(
        "/portal/acting-for",
        data={"csrf_token": csrf_of(web), "subject": stranger.personal_code},
        follow_redirects=False,
    )
    assert answer.status_code == 403
    assert _reads(seeded, parent.personal_code) > before  # someone trying codes is on record


def _acting_for_the_child_due_for_confirmation(web: TestClient, seeded: Database) -> str:
    """Signed in as a parent acting for a minor child, the mandate last confirmed two days
    ago (due again): the child's code."""
    parent = load_world(seeded).one("parent-of-minor")
    (child, *_) = minor_children(seeded, parent.personal_code)
    sign_in(web, parent)
    switched = web.post(
        "/portal/acting-for",
        data={"csrf_token": csrf_of(web), "subject": child},
        follow_redirects=False,
    )
    assert switched.status_code == 303
    with seeded.unit_of_work() as session:
        session.execute(
            update(WebSession)
            .where(WebSession.acting_for == child)
            .values(acting_checked_at=utcnow() - timedelta(days=2))
        )
    return child


def _acting_for(seeded: Database, child: str) -> tuple[str | None, object]:
    with seeded.reading() as session:
        row = session.execute(
            select(WebSession.acting_for, WebSession.acting_checked_at).where(
                WebSession.acting_for == child
            )
        ).first()
    return (row[0], row[1]) if row else (None, None)


def test_a_due_mandate_is_confirmed_from_its_own_register_only(
    web: TestClient, seeded: Database, refused_service: list[str]
) -> None:
    """A parent's mandate is confirmed from the population register alone: the business
    register refusing the portal changes nothing for it; the confirmation's reads are on
    record and the session notes when it was confirmed."""
    child = _acting_for_the_child_due_for_confirmation(web, seeded)
    parent = load_world(seeded).one("parent-of-minor").personal_code
    refused_service.append("representations")
    before = _reads(seeded, parent)
    page = web.get("/portal")
    assert page.status_code == 200
    assert "acting for" in page.text
    assert "mandate you were acting on" not in page.text
    acting, checked = _acting_for(seeded, child)
    assert acting == child
    assert checked is not None
    assert utcnow() - checked < timedelta(minutes=1)  # type: ignore[operator]
    assert _reads(seeded, parent) > before


def test_a_mandate_the_registers_cannot_confirm_now_is_not_acted_on(
    web: TestClient, seeded: Database, refused_service: list[str], caplog: pytest.LogCaptureFixture
) -> None:
    """Due for confirmation, a parent's mandate whose register the portal cannot read: the
    parent acts for themselves again, told that it could not be confirmed (not that it
    ended) — not a 403 on every page; a form shown for the child is refused saying why."""
    child = _acting_for_the_child_due_for_confirmation(web, seeded)
    refused_service.append("relations")
    page = web.get("/portal")
    assert page.status_code == 200
    assert "The registers could not confirm the mandate you were acting on" in page.text
    assert "has ended" not in page.text  # (nobody knows that it has)
    assert _acting_for(seeded, child) == (None, None)
    # the operators are told the portal lost a right it needs, without anybody's data
    told = [r.getMessage() for r in caplog.records if "mandate_not_confirmable" in r.getMessage()]
    assert len(told) == 1
    parent = load_world(seeded).one("parent-of-minor").personal_code
    assert child not in told[0]
    assert parent not in told[0]


def test_a_form_sent_when_the_mandate_cannot_be_confirmed_says_so(
    web: TestClient, seeded: Database, refused_service: list[str]
) -> None:
    child = _acting_for_the_child_due_for_confirmation(web, seeded)
    page = web.get("/portal/consents")
    action = re.findall(r'action="(/portal/consents/[0-9a-f-]+/give)"', page.text)[0]
    token = re.search(r'name="csrf_token" value="([^"]+)"', page.text)
    assert token is not None
    with seeded.unit_of_work() as session:  # due again since the page was shown
        session.execute(
            update(WebSession)
            .where(WebSession.acting_for == child)
            .values(acting_checked_at=utcnow() - timedelta(days=2))
        )
    refused_service.append("relations")
    answer = web.post(
        action, data={"csrf_token": token.group(1)}, headers={"Accept": "application/json"}
    )
    assert answer.status_code == 409
    assert answer.json()["type"].endswith("acting-for-changed")
    assert "could not be confirmed" in answer.json()["detail"]
    assert "has ended" not in answer.json()["detail"]


def test_a_check_of_the_mandate_held_does_not_undo_a_choice_made_meanwhile(
    web: TestClient, seeded: Database
) -> None:
    """The re-confirmation (or its undoing) is written only while the session still acts for
    whom it checked: a choice made meanwhile in another tab stands."""
    from joinedup import identity

    child = _acting_for_the_child_due_for_confirmation(web, seeded)
    with seeded.reading() as session:
        session_id = session.scalar(select(WebSession.id).where(WebSession.acting_for == child))
    assert session_id is not None
    with seeded.unit_of_work() as session:  # checked for someone it no longer acts for
        assert not identity.set_acting_for(
            session, session_id=session_id, subject_code=None, if_acting_for="39001010000"
        )
    assert _acting_for(seeded, child)[0] == child
    with seeded.unit_of_work() as session:  # checked for whom it acts for
        assert identity.set_acting_for(
            session, session_id=session_id, subject_code=None, if_acting_for=child
        )
    assert _acting_for(seeded, child) == (None, None)
