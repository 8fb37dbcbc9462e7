"""Who used my data, against what it is made of: each card on the list says of its record
what the check page says (the list writes its cards itself, unpacking a card's values, and
the check page uses _portal.html's usage_rows), in English and Estonian, for every way of
saying who; the pages of every filter are those of the shared keyset pagination (its
statements are built once per shape); forged cursors are refused as it refuses them; the
fields' words per language are the catalogue's."""

from __future__ import annotations

import base64
import itertools
import json
import re
from datetime import date, datetime, timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient
from identity_support import csrf_of, load_world, minor_children, sign_in
from sqlalchemy.orm import Session

from joinedup.core import i18n
from joinedup.core.clock import today, utcnow
from joinedup.core.db import Database
from joinedup.core.errors import ValidationFailed
from joinedup.core.keys import load_log_signing_key
from joinedup.core.pagination import Page, PageRequest, keyset_page
from joinedup.core.settings import get_settings
from joinedup.exchange.recorder import Recording, write_recordings
from joinedup.exchange.records import DataUsageRecord
from joinedup.exchange.usage import (
    Receiver,
    UsageItem,
    item_rows,
    record_staff_view,
    usage_records,
)
from joinedup.exchange.usage_queries import _period, _visible, list_usage
from joinedup.web.portal.labels import FIELD_LABELS, field_label, field_labels

FINANCE = Receiver("GOV", "70000036", 'Ministry of <Finance> & "Co"', "tax-system<1>")
POPULATION = Receiver("GOV", "70000065", "Population Register Office", "population")


def _record(
    session: Session,
    subject: str,
    *,
    receiver: Receiver = FINANCE,
    logged_at: datetime | None = None,
    user_id: str | None = None,
    represented_party: str | None = None,
    hidden_until: date | None = None,
) -> None:
    """One exchange read of ``subject``'s data, written as the recorder writes it."""
    rows = usage_records(
        logged_at=logged_at or utcnow(),
        subjects=[subject],
        channel="exchange",
        receiver=receiver,
        service_xroad_id="EE/GOV/70000065/population/person",
        action="read",
        fields=["personalCode", "birthDate", "unknownField<&>"],
        purpose="subject-access",
        legal_basis="Law 100% & <more>",
        case_reference=None,
        user_id=user_id,
        represented_party=represented_party,
        message_id=None,
        law_enforcement=hidden_until is not None,
        hidden_until=hidden_until,
    )
    recording = Recording(usages=[row for row, _ in rows], usage_leaves=[leaf for _, leaf in rows])
    write_recordings(session, [recording], signer=load_log_signing_key(get_settings()))


def _rows_of(page: str) -> list[tuple[str, str]]:
    """Each card's record id and the rows of its summary list."""
    return re.findall(
        r'href="/portal/data-usage/(\d+)/verify".*?<dl class="govuk-summary-list">(.*?)</dl>',
        page,
        re.S,
    )


def test_each_card_says_what_the_check_page_says_in_each_language(
    web: TestClient, seeded: Database
) -> None:
    world = load_world(seeded)
    parent = world.one("parent-of-minor")
    child = minor_children(seeded, parent.personal_code)[0]
    with seeded.unit_of_work() as session:
        record_staff_view(
            session,
            staff_member="GOV/70000065",
            staff_user="clerk-1",
            person_code=child,
            fields=["givenNames", "weird<field>&"],
            purpose="old-age-pension",
            legal_basis='Pension Act § 3 "quoted" & <b>',
            case_reference="CASE-<1>&\"'",
            log_signer=load_log_signing_key(get_settings()),
        )
        _record(session, child)  # its system
        _record(session, child, represented_party="Some <party> & co")
        _record(session, child, user_id="99999999999")  # a member of its staff, its system
        _record(session, child, user_id=child)  # the person themselves
        _record(session, child, user_id=parent.personal_code)  # you
    sign_in(web, parent)
    switched = web.post("/portal/acting-for", data={"csrf_token": csrf_of(web), "subject": child})
    assert switched.status_code == 200
    for language in ("en", "et"):
        page = web.get("/portal/data-usage", params={"lang": language})
        assert page.status_code == 200
        cards = _rows_of(page.text)
        assert len(cards) >= 6
        for usage_id, rows in cards:
            check = web.get(f"/portal/data-usage/{usage_id}/verify", params={"lang": language})
            expected = re.search(r'<dl class="govuk-summary-list">(.*?)</dl>', check.text, re.S)
            assert expected is not None
            assert rows == expected.group(1), usage_id
    english = web.get("/portal/data-usage", params={"lang": "en"}).text
    for who in (
        "You, through the portal",
        "The person themselves, through the portal",
        "A member of its staff, in its back office",
        "A member of its staff, through its system tax-system&lt;1&gt;",
        "Its system tax-system&lt;1&gt;, acting for Some &lt;party&gt; &amp; co",
        "(case CASE-&lt;1&gt;&amp;&#34;&#39;)",
        "given names, weird&lt;field&gt;&amp;",
    ):
        assert who in english


def _reference_page(
    session: Session,
    *,
    subject_code: str,
    request: PageRequest,
    since: datetime | None = None,
    until: datetime | None = None,
    member_code: str | None = None,
) -> Page[UsageItem]:
    """The list as it was written before its statements were built once per shape: with
    the shared :func:`keyset_page` (kept as the oracle of the pages and their cursors)."""
    statement = item_rows().where(
        DataUsageRecord.subject_code == subject_code,
        _visible(today()),
        *_period(since, until),
    )
    if member_code is not None:
        statement = statement.where(DataUsageRecord.receiver_member_code == member_code)
    rows, cursor = keyset_page(
        session,
        statement,
        keys=[DataUsageRecord.logged_at.expression, DataUsageRecord.id.expression],
        request=request,
        descending=True,
        mappings=True,
    )
    return Page[UsageItem](items=[UsageItem.of(row) for row in rows], next_cursor=cursor)


def _cursor(values: Any) -> str:
    return base64.urlsafe_b64encode(json.dumps(values).encode()).decode().rstrip("=")


def test_the_pages_of_every_filter_are_the_shared_keyset_pages(seeded: Database) -> None:
    person = load_world(seeded).one("pensioner").personal_code
    now = utcnow().replace(microsecond=0)
    with seeded.unit_of_work() as session:
        for day in range(6):
            for receiver in (FINANCE, POPULATION):
                _record(session, person, receiver=receiver, logged_at=now - timedelta(days=day))
        _record(session, person, logged_at=now, hidden_until=today() + timedelta(days=30))
    periods = (None, now - timedelta(days=4)), (None, now - timedelta(days=1))
    with seeded.reading() as session:
        for since, until, member in itertools.product(*periods, (None, FINANCE.member_code)):
            filters: dict[str, Any] = {"since": since, "until": until, "member_code": member}
            cursor: str | None = None
            seen = 0
            while True:
                request = PageRequest(cursor=cursor, limit=3)
                page = list_usage(session, subject_code=person, request=request, **filters)
                expected = _reference_page(session, subject_code=person, request=request, **filters)
                assert [item.id for item in page.items] == [item.id for item in expected.items]
                assert page.items == expected.items
                assert page.next_cursor == expected.next_cursor
                seen += len(page.items)
                if (cursor := page.next_cursor) is None:
                    break
            assert seen >= 2, filters  # each filter's records run over pages of 3
        # forged cursors and limits: refused as the shared pagination refuses them
        instant = now.isoformat()
        for forged, limit in [
            ("not a cursor!", 20),
            (_cursor([instant]), 20),
            (_cursor({"at": instant}), 20),
            (_cursor(["2026-01-01T00:00:00", 5]), 20),  # an instant without its time zone
            (_cursor(["yesterday", 5]), 20),
            (_cursor([5, 5]), 20),
            (_cursor([instant, True]), 20),
            (_cursor([instant, "5"]), 20),
            (_cursor([instant, 2**63]), 20),
            (_cursor([instant, 5.5]), 20),
            (None, 0),
            (None, 501),
        ]:
            refusals = []
            for reader in (list_usage, _reference_page):
                with pytest.raises(ValidationFailed) as refused:
                    reader(session, subject_code=person, request=PageRequest(forged, limit))
                refusals.append((refused.value.detail, refused.value.extensions))
            assert refusals[0] == refusals[1], forged
        with pytest.raises(ValidationFailed, match="start is after its end"):
            list_usage(
                session,
                subject_code=person,
                request=PageRequest(cursor="not a cursor!"),
                since=now,
                until=now - timedelta(days=1),
            )


def test_the_fields_words_are_the_catalogues_in_each_language() -> None:
    """The labels looked up per language are what translating each label gives."""
    estonian = dict(field_labels("et"))
    assert estonian != dict(field_labels("en"))  # one table per language, not the first one
    for locale in i18n.available_locales():
        with i18n.use_locale(locale):
            assert dict(field_labels(locale)) == {name: field_label(name) for name in FIELD_LABELS}
    assert field_labels("et") is field_labels("et")  # worked out once per language
    with pytest.raises(TypeError):
        field_labels("en")["iban"] = "changed"  # type: ignore[index]  # shared: read-only
