"""The portal's pages on the seeded country: my overview (read through the exchange, each read
a data-usage record naming actor and subject), who used my data (filters, pages, the
server-side check against the transparency log), my messages (opening is the read receipt),
and the back office's person view (read through the exchange, the staff view recorded)."""

from __future__ import annotations

import html
import re

import pytest
from fastapi.testclient import TestClient
from identity_support import World, csrf_of, load_world, minor_children, sign_in
from sqlalchemy import select, update

from joinedup import notify
from joinedup.core.clock import today
from joinedup.core.db import Database
from joinedup.core.pagination import PageRequest
from joinedup.demo.agencies import organisation
from joinedup.exchange import list_usage
from joinedup.exchange.records import DataUsageRecord


def _usage(database: Database, subject: str) -> list:  # type: ignore[type-arg]
    with database.reading() as session:
        return list_usage(session, subject_code=subject, request=PageRequest(limit=500)).items


def _send_letter(database: Database, recipient: str, reference: str) -> str:
    sib = organisation("social-insurance")
    with database.unit_of_work() as session:
        sent = notify.send_letter(
            session,
            recipient_code=recipient,
            sender=f"{sib.member_class}/{sib.member_code}",
            kind="decision",
            subject="Your child benefit",
            paragraphs=["We granted you the child benefit from next month."],
            reference=reference,
            actor="test",
        )
    return str(sent.message_id)


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


def test_my_messages_list_and_open_with_a_read_receipt(web: TestClient, seeded: Database) -> None:
    world = load_world(seeded)
    person = world.one("newly-married")
    message_id = _send_letter(seeded, person.personal_code, "portal-test-1")
    sign_in(web, person)
    listing = web.get("/portal/messages")
    assert listing.status_code == 200
    assert "Your child benefit" in listing.text
    assert "1 unread letter" in listing.text
    opened = web.get(f"/portal/messages/{message_id}")
    assert opened.status_code == 200
    assert "We granted you the child benefit" in opened.text
    assert "You opened this letter" in opened.text
    with seeded.reading() as session:
        letter = notify.get_letter(
            session, message_id=message_id, recipient_code=person.personal_code
        )
    assert letter.read_by == person.personal_code
    assert letter.read_at is not None
    assert "0 unread letters" in web.get("/portal/messages").text


def test_a_parent_reads_the_childs_letter_and_the_receipt_names_the_parent(
    web: TestClient, seeded: Database
) -> None:
    world = load_world(seeded)
    parent = world.one("parent-of-minor")
    child = minor_children(seeded, parent.personal_code)[0]
    message_id = _send_letter(seeded, child, "portal-test-child")
    sign_in(web, parent)
    assert web.get(f"/portal/messages/{message_id}").status_code == 404  # not their own
    web.post("/portal/acting-for", data={"csrf_token": csrf_of(web), "subject": child})
    assert web.get(f"/portal/messages/{message_id}").status_code == 200
    with seeded.reading() as session:
        letter = notify.get_letter(session, message_id=message_id, recipient_code=child)
    assert letter.read_by == parent.personal_code


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


def test_consents_give_withdraw_and_feedback(web: TestClient, seeded: Database) -> None:
    from joinedup import consent, engagement
    from joinedup.demo.purposes import FOOD_PARCELS_AGREEMENT

    world = load_world(seeded)
    person = world.one("pensioner")
    sign_in(web, person)
    page = web.get("/portal/consents")
    assert page.status_code == 200
    assert "Food parcels delivered to your home" in page.text
    assert "Not given" in page.text
    given = web.post(
        f"/portal/consents/{FOOD_PARCELS_AGREEMENT}/give", data={"csrf_token": csrf_of(web)}
    )
    assert given.status_code == 200
    assert "Consent given" in given.text
    with seeded.reading() as session:
        assert consent.has_consent(
            session,
            agreement=FOOD_PARCELS_AGREEMENT,
            subject_code=person.personal_code,
            on=today(),
        )
    withdrawn = web.post(
        f"/portal/consents/{FOOD_PARCELS_AGREEMENT}/withdraw", data={"csrf_token": csrf_of(web)}
    )
    assert "Consent withdrawn" in withdrawn.text
    assert "How satisfied were you with this?" in withdrawn.text
    with seeded.reading() as session:
        assert not consent.has_consent(
            session,
            agreement=FOOD_PARCELS_AGREEMENT,
            subject_code=person.personal_code,
            on=today(),
        )

    # the question after the task: a bad answer is named and writes nothing, a good one is kept
    refused = web.post(
        "/portal/feedback",
        data={
            "csrf_token": csrf_of(web),
            "task": "consent-withdrawn",
            "rating": "",
            "comment": "x" * 1300,
            "return_to": "/portal/consents",
        },
    )
    assert refused.status_code == 400
    assert "Choose how satisfied you were" in refused.text
    assert "1,200 characters or fewer" in refused.text
    thanks = web.post(
        "/portal/feedback",
        data={
            "csrf_token": csrf_of(web),
            "task": "consent-withdrawn",
            "rating": "4",
            "comment": "Quick and clear.",
            "return_to": "https://elsewhere.example/",  # never an open redirect
        },
    )
    assert thanks.status_code == 200
    assert str(thanks.url).endswith("/portal?feedback=thanks")
    with seeded.reading() as session:
        answers = engagement.list_feedback(
            session, task="consent-withdrawn", page=PageRequest(limit=10)
        ).items
    assert [(a.rating, a.comment) for a in answers] == [(4, "Quick and clear.")]


def test_withdrawing_a_consent_never_given_is_refused(web: TestClient, seeded: Database) -> None:
    from joinedup.demo.purposes import FOOD_PARCELS_AGREEMENT

    world = load_world(seeded)
    sign_in(web, world.one("pensioner"))
    answer = web.post(
        f"/portal/consents/{FOOD_PARCELS_AGREEMENT}/withdraw", data={"csrf_token": csrf_of(web)}
    )
    assert answer.status_code == 409
    unknown = web.post("/portal/consents/not-an-id/give", data={"csrf_token": csrf_of(web)})
    assert unknown.status_code == 404


def test_my_entitlements_with_reasons_and_decisions(
    web: TestClient, other_browser: TestClient, seeded: Database
) -> None:
    from portal_support import register_birth

    from joinedup import proactive

    world = load_world(seeded)
    mother = next(a for a in world.tagged("parent-of-minor") if int(a.personal_code[0]) % 2 == 0)
    register_birth(seeded, mother=mother.personal_code, born=today())
    sign_in(web, mother)
    listing = web.get("/portal/entitlements")
    assert listing.status_code == 200
    for words in ("Offered to you", "Granted", "You may be entitled", "Birth grant", "Eligible:"):
        assert words in listing.text
    with seeded.reading() as session:
        found = {
            e.service_code: e
            for e in proactive.list_entitlements(session, person_code=mother.personal_code).items
        }
    grant, benefit = found["birth-grant"], found["child-benefit"]
    detail = web.get(f"/portal/entitlements/{grant.id}")
    assert grant.reason in detail.text
    assert "How this was worked out" in detail.text
    assert "Accept the offer" in detail.text
    assert "Decline the offer" in detail.text
    # the rules' verdict, stored in English, shown in the reader's language from its parts
    assert benefit.reason.startswith("Eligible: a child under 18 living in Joinland")
    verdict = (  # (a condition the rules word themselves is put together from its parts too)
        "Õigus on olemas: leibkonda kuulub Joinlandis elav alla 18-aastane laps "
        "(Family Benefits Act 2019 §4(1))"
    )
    assert verdict in web.get(f"/portal/entitlements/{benefit.id}?lang=et").text
    assert verdict in web.get("/portal/entitlements").text
    assert benefit.reason in web.get("/portal/entitlements?lang=en").text

    declined = web.post(
        f"/portal/entitlements/{grant.id}/decision",
        data={"csrf_token": csrf_of(web), "decision": "decline"},
    )
    assert declined.status_code == 200
    assert "Offer declined" in declined.text
    assert "How satisfied were you with this?" in declined.text
    # the service's reason, stored in English, in the person's language (a rule's sentence
    # with a "%" in it goes through unformatted)
    assert "You declined the offer." in web.get(f"/portal/entitlements/{grant.id}").text
    estonian = web.get(f"/portal/entitlements/{grant.id}?lang=et").text
    assert "Te keeldusite pakkumisest." in estonian
    assert "Te keeldusite pakkumisest." in web.get("/portal/entitlements").text
    web.get("/portal/entitlements?lang=en")
    again = web.post(
        f"/portal/entitlements/{grant.id}/decision",
        data={"csrf_token": csrf_of(web), "decision": "accept"},
    )
    assert again.status_code == 409  # declined already: nothing to accept
    opted = web.post(
        f"/portal/entitlements/{benefit.id}/decision",
        data={"csrf_token": csrf_of(web), "decision": "opt_out"},
    )
    assert "You opted out" in opted.text
    bad = web.post(
        f"/portal/entitlements/{benefit.id}/decision",
        data={"csrf_token": csrf_of(web), "decision": "maybe"},
    )
    assert bad.status_code == 422
    with seeded.reading() as session:
        now = {
            e.service_code: e.status
            for e in proactive.list_entitlements(session, person_code=mother.personal_code).items
        }
    assert now["birth-grant"] is proactive.EntitlementStatus.DECLINED
    assert now["child-benefit"] is proactive.EntitlementStatus.OPTED_OUT

    # another person: neither the page nor a decision reaches the mother's entitlement
    sign_in(other_browser, world.one("pensioner"))
    parental = found["parental-benefit"]
    assert other_browser.get(f"/portal/entitlements/{parental.id}").status_code == 404
    assert (
        other_browser.post(
            f"/portal/entitlements/{parental.id}/decision",
            data={"csrf_token": csrf_of(other_browser), "decision": "decline"},
        ).status_code
        == 404
    )
    assert other_browser.get("/portal/entitlements/not-an-id").status_code == 404


def _worked_out(page: str) -> list[str]:
    """The "How this was worked out" list of an entitlement's page."""
    found = re.search(r'govuk-list--bullet">(.*?)</ul>', page, re.S)
    assert found is not None
    return [html.unescape(item) for item in re.findall(r"<li>(.*?)</li>", found.group(1), re.S)]


def test_how_an_entitlement_was_worked_out_is_in_the_readers_language(
    web: TestClient, seeded: Database
) -> None:
    from portal_support import register_birth

    from joinedup import proactive
    from joinedup.proactive.models import Entitlement

    world = load_world(seeded)
    mother = next(a for a in world.tagged("parent-of-minor") if int(a.personal_code[0]) % 2 == 0)
    register_birth(seeded, mother=mother.personal_code, born=today())
    sign_in(web, mother)
    with seeded.reading() as session:
        found = {
            e.service_code: e
            for e in proactive.list_entitlements(session, person_code=mother.personal_code).items
        }
    for code in ("child-benefit", "birth-grant"):
        item = found[code]
        english = _worked_out(web.get(f"/portal/entitlements/{item.id}?lang=en").text)
        assert english == item.explanation["sentences"]
        estonian = _worked_out(web.get(f"/portal/entitlements/{item.id}?lang=et").text)
        assert len(estonian) == len(english)
        words = " ".join(estonian)
        for sentence in ("Õigus on olemas: ", "Arvutus: ", "Reegel kehtib alates "):
            assert sentence in words
        for sentence in ("Eligible", "Computed as", "Rule in force", " for 20", "household"):
            assert sentence not in words
    # an explanation stored before its sentences had parts is shown as it was written
    benefit = found["child-benefit"]
    with seeded.unit_of_work() as session:
        row = session.scalars(select(Entitlement).where(Entitlement.uid == benefit.id)).one()
        row.explanation = {k: v for k, v in row.explanation.items() if k != "sentence_parts"}
    old = _worked_out(web.get(f"/portal/entitlements/{benefit.id}?lang=et").text)
    assert old == benefit.explanation["sentences"]
    web.get("/portal/entitlements?lang=en")


def test_the_front_door_is_organised_by_life_events_and_levels(web: TestClient) -> None:
    home = web.get("/portal")
    assert home.status_code == 200
    for words in ("Life events", "Having a baby", "Starting school", "Local government"):
        assert words in home.text
    baby = web.get("/portal/life-events/birth")
    assert baby.status_code == 200
    for words in ("Birth grant", "Child benefit", "Parental benefit", "Social Insurance Board"):
        assert words in baby.text
    local = web.get("/portal/services", params={"level": "local"})
    assert local.status_code == 200
    assert "Municipality" in local.text
    national = web.get("/portal/services")
    assert "Food Bank Foundation" in national.text
    service = web.get("/portal/services/child-benefit")
    assert service.status_code == 200
    assert "Family Benefits Act" in service.text
    assert "You do not need to apply" in service.text
    assert web.get("/portal/services/no-such-service").status_code == 404
    assert web.get("/portal/life-events/graduation").status_code == 404
    assert web.get("/portal/services", params={"level": "galactic"}).status_code == 422


def test_an_offer_shows_its_last_day_and_once_it_has_passed_only_how_to_ask(
    web: TestClient, seeded: Database
) -> None:
    from datetime import timedelta

    from portal_support import register_birth
    from sqlalchemy import text

    from joinedup import proactive
    from joinedup.core.clock import utcnow

    world = load_world(seeded)
    mother = next(a for a in world.tagged("parent-of-minor") if int(a.personal_code[0]) % 2 == 1)
    register_birth(seeded, mother=mother.personal_code, born=today())
    sign_in(web, mother)
    with seeded.reading() as session:
        grant = next(
            e
            for e in proactive.list_entitlements(session, person_code=mother.personal_code).items
            if e.service_code == "birth-grant"
        )
    assert grant.respond_by is not None
    page = web.get(f"/portal/entitlements/{grant.id}").text
    assert "Accept by" in page
    assert grant.respond_by.isoformat() in page
    assert "Accept the offer" in page
    assert "Vastu võtta hiljemalt" in web.get(f"/portal/entitlements/{grant.id}?lang=et").text
    with seeded.unit_of_work() as session:  # as if offered over a year ago
        session.execute(
            text("UPDATE proactive_entitlement SET updated_at = :at WHERE uid = :uid"),
            {"at": utcnow() - timedelta(days=400), "uid": grant.id.hex},
        )
    late = web.get(f"/portal/entitlements/{grant.id}?lang=en").text
    assert "The time to accept this offer ran out on" in late
    assert "Accept the offer" not in late
    refused = web.post(
        f"/portal/entitlements/{grant.id}/decision",
        data={"csrf_token": csrf_of(web), "decision": "accept"},
    )
    assert refused.status_code == 409


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


@pytest.mark.parametrize("valid_from", ["9995-01-01", "9999-12-31"])
def test_a_power_of_attorney_starting_centuries_ahead_is_refused_naming_the_start(
    web: TestClient, seeded: Database, valid_from: str
) -> None:
    world = load_world(seeded)
    sign_in(web, world.accounts[0], means="password-otp", level="substantial")
    answer = web.post(
        "/portal/powers-of-attorney/new",
        data={
            "csrf_token": csrf_of(web),
            "grantee_code": world.accounts[1].personal_code,
            "scope": "everything",
            "valid_from": valid_from,
            "valid_to": "9999-12-31",
        },
    )
    assert answer.status_code == 400
    assert "Enter a first day from today to 10 years from today" in answer.text
