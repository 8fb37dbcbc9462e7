"""The portal's pages that read the registers, on the seeded country: my overview (read
through the exchange, each read a data-usage record naming actor and subject, the records
going with the web process's group commit), who used my data (filters, pages, the server-side
check against the transparency log), and the back office's person view (read through the
exchange, the staff view recorded); odd input to these pages is a clear answer, not a 500."""

from __future__ import annotations

import re

import pytest
from fastapi.testclient import TestClient
from identity_support import World, csrf_of, load_world, minor_children, sign_in
from sqlalchemy import update

from joinedup.core.db import Database
from joinedup.core.pagination import PageRequest
from joinedup.demo.agencies import organisation
from joinedup.exchange import list_usage
from joinedup.exchange.records import DataUsageRecord


def _usage(database: Database, subject: str) -> list:  # type: ignore[type-arg]
    with database.reading() as session:
        return list_usage(session, subject_code=subject, request=PageRequest(limit=500)).items


def test_overview_reads_every_register_through_the_exchange(
    web: TestClient, seeded: Database
) -> None:
    world = load_world(seeded)
    person = world.one("business-representative")
    sign_in(web, person)
    page = web.get("/portal/overview")
    assert page.status_code == 200, page.text
    for heading in ("Personal details", "Residence", "Roles in businesses", "Payment account"):
        assert heading in page.text
    assert "Population Register Office" in page.text  # which agency keeps it
    assert "How to get this corrected" in page.text
    reads = [u for u in _usage(seeded, person.personal_code) if u.purpose == "subject-access"]
    services = {u.service_xroad_id.rsplit("/", 1)[1] for u in reads}
    assert {"person", "residence", "representations", "payment-account"} <= services
    assert all(u.user_id == person.personal_code and u.represented_party is None for u in reads)


def test_overview_records_go_with_the_group_commit_and_are_committed_before_the_page(
    web: TestClient, seeded: Database
) -> None:
    """The overview's seven reads leave their records through the web process's recorder
    (written with other requests' records, one signed tree head per batch), committed before
    the page is answered; without a running recorder they are written in a transaction of the
    page's own."""
    from joinedup.core.keys import load_log_signing_key
    from joinedup.core.settings import get_settings
    from joinedup.exchange import recorder_of

    recorder = recorder_of(web.app)
    assert recorder is not None
    assert recorder.running
    # this test's application was made with settings of its own (another data directory, so
    # another log key than the process's, which the seeded country's log is signed with):
    # give its recorder the process's key, as a deployed process has one log key
    app_key, recorder.signer = recorder.signer, load_log_signing_key(get_settings())
    world = load_world(seeded)
    person = world.one("pensioner")
    sign_in(web, person)
    before = recorder.recordings
    page = web.get("/portal/overview")
    assert page.status_code == 200
    taken = recorder.recordings - before
    reads = [u for u in _usage(seeded, person.personal_code) if u.purpose == "subject-access"]
    assert taken >= 5
    assert len(reads) == taken

    recorder.stop()  # as in a process without the exchange's lifespan: written in place
    try:
        assert web.get("/portal/overview").status_code == 200
        again = [u for u in _usage(seeded, person.personal_code) if u.purpose == "subject-access"]
        assert len(again) == 2 * taken
        assert recorder.recordings - before == taken
    finally:
        recorder.start()
        recorder.signer = app_key


def test_overview_ends_its_read_before_it_waits_for_its_records(
    web: TestClient, seeded: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    """No read snapshot is held while the page waits for the writer: under steady load one
    always was, and SQLite's write-ahead log never started over (650 MB in 50 s)."""
    from joinedup.exchange import ExchangeClient

    seen: list[bool] = []
    commit_records = ExchangeClient.commit_records

    def watched(self: ExchangeClient, *args: object, **kwargs: object) -> None:
        seen.append(self.session.in_transaction())
        commit_records(self, *args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(ExchangeClient, "commit_records", watched)
    sign_in(web, load_world(seeded).one("pensioner"))
    page = web.get("/portal/overview")
    assert page.status_code == 200
    assert "Personal details" in page.text
    assert seen == [False]


def test_overview_for_a_child_names_the_parent_and_the_child(
    web: TestClient, seeded: Database
) -> None:
    world = load_world(seeded)
    parent = world.one("parent-of-minor")
    child = minor_children(seeded, parent.personal_code)[0]
    sign_in(web, parent)
    switched = web.post("/portal/acting-for", data={"csrf_token": csrf_of(web), "subject": child})
    assert switched.status_code == 200
    page = web.get("/portal/overview")
    assert page.status_code == 200
    assert child in page.text
    reads = [u for u in _usage(seeded, child) if u.purpose == "subject-access"]
    assert reads
    assert all(u.user_id == parent.personal_code for u in reads)
    assert all(u.represented_party == child for u in reads)


def test_who_used_my_data_lists_filters_and_verifies(web: TestClient, seeded: Database) -> None:
    world = load_world(seeded)
    person = world.one("pensioner")
    sign_in(web, person)
    web.get("/portal/overview")  # makes records of its own
    page = web.get("/portal/data-usage")
    assert page.status_code == 200
    # why, in words (the purpose subject-access as the central office described it)
    assert "Showing you your own data" in page.text
    assert "subject-access" not in page.text
    assert "General Data Protection Regulation Art. 15" in page.text
    estonian = web.get("/portal/data-usage?lang=et")
    assert "Teile näidati teie enda andmeid" in estonian.text
    web.get("/portal/data-usage?lang=en")
    assert "You, through the portal" in page.text
    ids = re.findall(r"/portal/data-usage/(\d+)/verify", page.text)
    assert ids
    check = web.get(f"/portal/data-usage/{ids[0]}/verify")
    assert check.status_code == 200
    assert "The record is in the log" in check.text
    assert check.text.count("Passed") == 3

    # filter by an agency the person's data never went to, and by a period in the past
    other = web.get("/portal/data-usage", params={"agency": "00000000"})
    assert "No records match." in other.text
    past = web.get("/portal/data-usage", params={"from": "2001-01-01", "to": "2001-12-31"})
    assert "No records match." in past.text
    bad = web.get("/portal/data-usage", params={"from": "yesterday"})
    assert bad.status_code == 422


def test_a_rewritten_record_fails_its_check(web: TestClient, seeded: Database) -> None:
    world = load_world(seeded)
    person = world.one("pensioner")
    sign_in(web, person)
    web.get("/portal/overview")
    record = _usage(seeded, person.personal_code)[0]
    with seeded.unit_of_work() as session:
        session.execute(
            update(DataUsageRecord)
            .where(DataUsageRecord.id == record.id)
            .values(purpose="something-else")
        )
    check = web.get(f"/portal/data-usage/{record.id}/verify")
    assert check.status_code == 200
    assert "The record could not be verified" in check.text
    assert "no longer matches" in check.text


def test_keyset_pages_of_who_used_my_data(web: TestClient, seeded: Database) -> None:
    world = load_world(seeded)
    person = world.one("business-representative")
    sign_in(web, person)
    for _ in range(4):  # 7 reads each: more than a page of 20
        web.get("/portal/overview")
    first = web.get("/portal/data-usage")
    ids_first = re.findall(r"/portal/data-usage/(\d+)/verify", first.text)
    assert len(ids_first) == 20
    more = re.search(r'href="(\?cursor=[^"]+)"', first.text)
    assert more is not None
    second = web.get("/portal/data-usage" + more.group(1).replace("&amp;", "&"))
    ids_second = re.findall(r"/portal/data-usage/(\d+)/verify", second.text)
    assert ids_second
    assert not set(ids_first) & set(ids_second)
    assert max(int(i) for i in ids_second) < min(int(i) for i in ids_first)


def _caseworker(world: World, seeded: Database, org_key: str) -> tuple[object, str, str]:
    from identity_support import staff_roles

    org = organisation(org_key)
    for account in world.tagged("staff"):
        roles = staff_roles(seeded, account.personal_code)
        if (str(org.member_class), org.member_code, "caseworker") in roles:
            return account, str(org.member_class), org.member_code
    raise AssertionError(f"no caseworker of {org_key}")


def test_staff_person_view_reads_through_the_exchange_and_is_recorded(
    web: TestClient, other_browser: TestClient, seeded: Database
) -> None:
    world = load_world(seeded)
    staff, member_class, member_code = _caseworker(world, seeded, "social-insurance")
    person = world.one("pensioner")
    sign_in(web, staff, means="password-otp", level="substantial")
    base = f"/backoffice/organisations/{member_class}/{member_code}/person"
    form = web.get(base)
    assert form.status_code == 200
    assert "old-age-pension" in form.text
    assert "Paying your old-age pension" in form.text  # each purpose in words
    access = re.search(r'name="access" type="radio" value="([^"]*old-age-pension)"', form.text)
    assert access is not None
    answer = web.post(
        base,
        data={
            "csrf_token": csrf_of(web),
            "personal_code": person.personal_code,
            "access": access.group(1),
            "case_reference": "CASE-1",
        },
    )
    assert answer.status_code == 200, answer.text
    assert person.personal_code in answer.text
    records = _usage(seeded, person.personal_code)
    channels = {(u.channel, u.purpose, u.user_id) for u in records}
    assert ("exchange", "old-age-pension", staff.personal_code) in channels
    assert ("backoffice", "old-age-pension", staff.personal_code) in channels

    # what else the purpose allows is offered, and read only when asked, one register at a time
    offered = re.findall(r'name="also" value="([^"]+)"', answer.text)
    assert offered, "the Board may read more than the person for a pension"
    assert "person" not in offered
    assert "population-extract" not in offered
    before = len(_usage(seeded, person.personal_code))
    form = {
        "csrf_token": csrf_of(web),
        "personal_code": person.personal_code,
        "access": access.group(1),
        "case_reference": "CASE-1",
    }
    more = web.post(base, data={**form, "also": offered[0]})
    assert more.status_code == 200, more.text
    assert 'id="more"' in more.text
    reads = _usage(seeded, person.personal_code)
    assert len(reads) > before
    assert {u.purpose for u in reads[: len(reads) - before]} == {"old-age-pension"}
    # a register the purpose does not allow is refused, and nothing is read or recorded
    forged = web.post(base, data={**form, "also": "population-extract"})
    assert forged.status_code == 403
    assert len(_usage(seeded, person.personal_code)) == len(reads)

    # the person sees it
    sign_in(other_browser, person)
    seen = other_browser.get("/portal/data-usage")
    assert "A member of its staff, in its back office" in seen.text
    assert "Paying your old-age pension" in seen.text  # the purpose, in words


def test_staff_person_view_refuses_bad_input_without_writing(
    web: TestClient, seeded: Database
) -> None:
    world = load_world(seeded)
    staff, member_class, member_code = _caseworker(world, seeded, "social-insurance")
    sign_in(web, staff, means="password-otp", level="substantial")
    base = f"/backoffice/organisations/{member_class}/{member_code}/person"
    person = world.one("pensioner").personal_code
    before = len(_usage(seeded, person))
    bad = web.post(base, data={"csrf_token": csrf_of(web), "personal_code": "12345", "access": ""})
    assert bad.status_code == 400
    assert "Enter a valid personal code" in bad.text
    forged = web.post(
        base,
        data={
            "csrf_token": csrf_of(web),
            "personal_code": person,
            "access": "GOV/70000579/portal|subject-access",
        },
    )
    assert forged.status_code == 403
    assert len(_usage(seeded, person)) == before


@pytest.mark.parametrize(
    ("method", "path", "data", "status"),
    [
        ("get", "/portal/data-usage?to=9999-12-31", None, 200),  # the calendar's last day
        ("get", "/portal/data-usage/99999999999999999999999/verify", None, 404),
        ("get", "/portal/data-usage/0/verify", None, 404),
        ("post", "/portal/feedback", {"task": "consent-given", "rating": "²"}, 400),
    ],
)
def test_odd_input_is_a_clear_answer_not_a_500(
    web: TestClient,
    seeded: Database,
    method: str,
    path: str,
    data: dict[str, str] | None,
    status: int,
) -> None:
    world = load_world(seeded)
    sign_in(web, world.accounts[0])
    if method == "get":
        answer = web.get(path)
    else:
        answer = web.post(path, data={"csrf_token": csrf_of(web), **(data or {})})
    assert answer.status_code == status
