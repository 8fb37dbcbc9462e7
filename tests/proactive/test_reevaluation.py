"""Re-evaluating the whole population when the law changes: only the changes are stored, only
those affected get a letter, every person read has a data-usage record, and a run that stops
(an injected failure after a chunk) resumes to exactly the changes of an uninterrupted run."""

from __future__ import annotations

import shutil
import signal
import subprocess
import sys
from collections import Counter
from pathlib import Path

import pytest
from reevaluation_support import (
    child_benefit,
    count,
    law_change,
    letters_of,
    month_start,
    plan,
    revisions_of,
)
from sqlalchemy import select, text

from joinedup.core.db import Database
from joinedup.core.errors import Conflict, ValidationFailed
from joinedup.proactive.reevaluation import (
    get_reevaluation,
    run_reevaluation,
    start_reevaluation,
)

LARGE_FAMILY_SUPPLEMENT = 20000  # cents, from three children


def _per_child(amount: int | None, per_child: int) -> bool:
    """The amount is the per-child amount times one or two children, or times three or more
    plus the large family supplement."""
    if amount is None:
        return False
    if amount in (per_child, 2 * per_child):
        return True
    rest = amount - LARGE_FAMILY_SUPPLEMENT
    return rest >= 3 * per_child and rest % per_child == 0


def test_only_changes_are_stored_and_only_those_affected_get_a_letter(
    seeded_database: Database,
) -> None:
    db = seeded_database
    first = law_change(db, amount=120, effective_from=month_start(1))
    assert first.status == "completed"
    assert first.chunks_done == first.chunks_total > 1
    granted = revisions_of(db, first.version)
    assert first.changes == len(granted) > 0
    assert {status for _, status, _, _ in granted} == {"granted"}
    assert all(_per_child(amount, 12000) for _, _, amount, _ in granted)
    assert len(letters_of(db, first.version)) == first.letters == first.changes

    # the same law again from the same day: nothing changes, nothing is written, nobody is told
    entitlements, revisions = (
        count(db, "proactive_entitlement"),
        count(db, "proactive_entitlement_revision"),
    )
    again = law_change(db, amount=120, effective_from=month_start(1))
    assert (again.changes, again.letters) == (0, 0)
    assert count(db, "proactive_entitlement") == entitlements
    assert count(db, "proactive_entitlement_revision") == revisions

    # a higher amount from the same day: every holder's amount changes, and only theirs
    raised = law_change(db, amount=130, effective_from=month_start(1))
    changed = revisions_of(db, raised.version)
    assert raised.changes == len(changed) == len(granted)
    assert {person for person, *_ in changed} == {person for person, *_ in granted}
    assert all(revision == 2 and status == "granted" for _, status, _, revision in changed)
    assert all(_per_child(amount, 13000) for _, _, amount, _ in changed)
    recipients = [person for person, _ in letters_of(db, raised.version)]
    assert sorted(recipients) == sorted(person for person, *_ in changed)
    with db.reading() as session:
        someone_else = session.execute(
            text(
                "SELECT personal_code FROM person WHERE personal_code NOT IN "
                "(SELECT person_code FROM proactive_entitlement) LIMIT 1"
            )
        ).scalar_one()
    assert someone_else not in recipients


def test_every_person_read_in_bulk_has_a_data_usage_record(seeded_database: Database) -> None:
    db = seeded_database
    before = count(db, "exchange_data_usage")
    run = law_change(db, amount=125, effective_from=month_start(1), chunk_persons=100_000)
    assert run.chunks_total == 1
    with db.reading() as session:
        persons = session.execute(text("SELECT count(*) FROM person")).scalar_one()
        usages = session.execute(
            text(
                "SELECT count(*), count(DISTINCT subject_code), min(purpose), min(legal_basis) "
                "FROM exchange_data_usage WHERE case_reference = :issue"
            ),
            {"issue": f"law-change/{run.uid}"},
        ).one()
    assert usages[0] == usages[1] == persons
    assert usages[2] == "child-benefit"
    assert "Family Benefits Act" in usages[3]
    assert count(db, "exchange_data_usage") == before + persons


def test_a_run_that_stops_resumes_to_exactly_the_changes_of_one_that_did_not(
    seeded: Database, tmp_path: Path
) -> None:
    law_change(seeded, amount=120, effective_from=month_start(1))
    seeded.dispose()
    copy = tmp_path / "copy.db"
    shutil.copyfile(seeded.url.removeprefix("sqlite:///"), copy)
    uninterrupted_db = Database(f"sqlite:///{copy}")

    # the oracle: the same change, one run, in one chunk
    oracle = law_change(
        uninterrupted_db, amount=135, effective_from=month_start(2), chunk_persons=100_000
    )
    expected = revisions_of(uninterrupted_db, oracle.version)
    assert len(expected) > 0

    run = plan(seeded, amount=135, effective_from=month_start(2), chunk_persons=100)
    assert run.chunks_total >= 5

    class Crash(RuntimeError):
        pass

    def crash_after_third(progress: object, result: object) -> None:
        if getattr(result, "seq", None) == 2:
            raise Crash

    with pytest.raises(Crash):
        run_reevaluation(seeded, uid=run.uid, on_chunk=crash_after_third)
    with seeded.reading() as session:
        stopped = get_reevaluation(session, uid=run.uid)
    assert (stopped.status, stopped.chunks_done) == ("failed", 3)
    assert stopped.last_error == "Crash"
    partial = revisions_of(seeded, stopped.version)
    assert 0 < len(partial) < len(expected)

    with seeded.unit_of_work() as session, pytest.raises(Conflict):
        start_reevaluation(
            session,
            law_version=stopped.law_version,
            services=[child_benefit()],
            actor="test",
        )

    done = run_reevaluation(seeded, uid=run.uid)
    assert (done.status, done.chunks_done) == ("completed", done.chunks_total)
    # the oracle's entitlements have the same codes (the same seeded country)
    assert revisions_of(seeded, done.version) == expected
    letters = letters_of(seeded, done.version)
    assert len(letters) == len(expected) == done.letters == done.changes
    assert not [ref for ref, n in Counter(ref for _, ref in letters).items() if n > 1]
    # resuming a completed run does nothing
    assert run_reevaluation(seeded, uid=run.uid).changes == done.changes
    uninterrupted_db.dispose()


def test_a_bad_law_version_is_refused_before_anything_is_written(
    seeded_database: Database,
) -> None:
    from reevaluation_support import owner

    from joinedup.proactive.reevaluation import publish_law_version

    for changes, field in (
        (["family.child_benefit.no_such_thing=1"], None),
        (["family.child_benefit.amount_per_child=abc"], "changes[0]"),
        (["family.child_benefit.amount_per_child=130@2027-01-01"], "changes[0]"),
        ([], "changes"),
    ):
        with seeded_database.unit_of_work() as session, pytest.raises(ValidationFailed) as bad:
            publish_law_version(
                session,
                ruleset="demo",
                changes=changes,
                effective_from=month_start(1),
                citation="Act",
                owner=owner(),
                actor="test",
            )
        if field is not None:
            assert field in {e["field"] for e in bad.value.extensions["errors"]}
    assert count(seeded_database, "proactive_law_version") == 0


def test_a_run_killed_inside_a_chunk_resumes_without_losing_or_repeating_anything(
    seeded: Database, tmp_path: Path
) -> None:
    law_change(seeded, amount=120, effective_from=month_start(1))
    seeded.dispose()
    copy = tmp_path / "copy.db"
    shutil.copyfile(seeded.url.removeprefix("sqlite:///"), copy)
    oracle_db = Database(f"sqlite:///{copy}")
    oracle = law_change(oracle_db, amount=140, effective_from=month_start(2), chunk_persons=100_000)
    expected = revisions_of(oracle_db, oracle.version)
    oracle_db.dispose()

    run = plan(seeded, amount=140, effective_from=month_start(2), chunk_persons=100)
    letters_before = count(seeded, "notify_letter")
    killed = subprocess.run(
        [sys.executable, str(Path(__file__).with_name("reevaluation_kill.py")), seeded.url,
         str(run.uid), "3"],
        capture_output=True,
        timeout=600,
        check=False,
    )  # fmt: skip
    assert killed.returncode == -signal.SIGKILL, killed.stderr.decode()[-2000:]
    with seeded.reading() as session:
        stopped = get_reevaluation(session, uid=run.uid)
    # three chunks committed; the fourth's changes and letters died with the process
    assert (stopped.status, stopped.chunks_done) == ("running", 3)
    assert len(revisions_of(seeded, stopped.version)) == stopped.changes
    assert count(seeded, "notify_letter") == letters_before + stopped.letters

    done = run_reevaluation(seeded, uid=run.uid)
    assert done.status == "completed"
    assert revisions_of(seeded, done.version) == expected
    letters = letters_of(seeded, done.version)
    assert len(letters) == len(expected) == done.letters
    assert count(seeded, "notify_letter") == letters_before + len(expected)


def test_a_life_event_after_a_change_is_decided_under_the_new_law(seeded: Database) -> None:
    """The life-event consumers decide under the law in force: a birth after a published
    version gets the new amount, and its entitlement names the version."""
    from proactive_support import low_income_adults, record_birth
    from reevaluation_support import AMOUNT, CITATION, owner

    from joinedup import proactive
    from joinedup.core.clock import today
    from joinedup.core.events import Delivered
    from joinedup.core.outbox import OutboxEvent
    from joinedup.proactive.handlers import handle_births
    from joinedup.proactive.reevaluation import publish_law_version

    (mother,) = low_income_adults(seeded, sex="F", count=1, offset=2)
    with seeded.unit_of_work() as session:
        law = publish_law_version(
            session,
            ruleset="demo",
            changes=[f"{AMOUNT}=150"],
            effective_from=month_start(0),
            citation=CITATION,
            owner=owner(),
            actor="test",
        )
    record_birth(seeded, mother=mother, father=None, born=today())
    with seeded.reading() as session:
        row = session.scalars(
            select(OutboxEvent).where(OutboxEvent.name == "population.birth_registered.v1")
        ).one()
        event = Delivered(
            event_id=row.event_id,
            name=row.name,
            payload=row.payload,
            occurred_at=row.occurred_at,
            stream_seq=1,
        )
    with seeded.unit_of_work() as session:
        handle_births(session, [event])
    with seeded.reading() as session:
        items = proactive.list_entitlements(session, person_code=mother).items
    benefit = {e.service_code: e for e in items}["child-benefit"]
    assert benefit.amount_cents == 15000
    with seeded.reading() as session:
        version = session.execute(
            text(
                "SELECT ruleset_version FROM proactive_entitlement "
                "WHERE person_code = :p AND service_code = 'child-benefit'"
            ),
            {"p": mother},
        ).scalar_one()
    assert version == law.version


_PAID_TWICE = """
    SELECT count(*) FROM relation a JOIN relation b
      ON a.related_person_id = b.related_person_id AND a.person_id < b.person_id
     JOIN person pa ON pa.id = a.person_id JOIN person pb ON pb.id = b.person_id
     JOIN proactive_entitlement ea ON ea.person_code = pa.personal_code
     JOIN proactive_entitlement eb ON eb.person_code = pb.personal_code
    WHERE a.kind = 'parent' AND b.kind = 'parent'
      AND a.superseded_at IS NULL AND b.superseded_at IS NULL
      AND ea.service_code = 'child-benefit' AND eb.service_code = 'child-benefit'
      AND ea.status = 'granted' AND eb.status = 'granted'
"""
_TWO_PARENT_HOMES = """
    SELECT pa.personal_code, pb.personal_code FROM relation a JOIN relation b
      ON a.related_person_id = b.related_person_id AND a.person_id < b.person_id
     JOIN person pa ON pa.id = a.person_id JOIN person pb ON pb.id = b.person_id
     JOIN proactive_entitlement ea ON ea.person_code = pa.personal_code
     JOIN residence ra ON ra.person_id = pa.id AND ra.superseded_at IS NULL
      AND ra.valid_to IS NULL
     JOIN residence rb ON rb.person_id = pb.id AND rb.superseded_at IS NULL
      AND rb.valid_to IS NULL AND rb.address_id = ra.address_id
    WHERE a.kind = 'parent' AND b.kind = 'parent'
      AND a.superseded_at IS NULL AND b.superseded_at IS NULL
      AND ea.service_code = 'child-benefit' AND ea.status = 'granted'
      AND pb.date_of_death IS NULL
    ORDER BY pa.id LIMIT 1
"""


def _child_benefit_of(db: Database, code: str) -> tuple[str, int | None] | None:
    with db.reading() as session:
        row = session.execute(
            text(
                "SELECT status, amount FROM proactive_entitlement "
                "WHERE person_code = :c AND service_code = 'child-benefit'"
            ),
            {"c": code},
        ).first()
    return None if row is None else (row[0], row[1])


def test_a_law_change_pays_each_household_once_and_leaves_it_with_its_payee(
    seeded_database: Database,
) -> None:
    """The columnar run applies the payee rule of the life-event path: one parent of a
    household is paid, a parent who holds it keeps it, and a second holder is ended."""
    db = seeded_database
    law_change(db, amount=120, effective_from=month_start(1))
    with db.reading() as session:
        assert session.execute(text(_PAID_TWICE)).scalar_one() == 0
        found = session.execute(text(_TWO_PARENT_HOMES)).first()
    assert found is not None, "the seeded country has parents living together"
    payee, other = found
    paid = _child_benefit_of(db, payee)
    assert paid is not None
    assert paid[0] == "granted"
    assert _child_benefit_of(db, other) is None  # paid once, to one of them
    # the other parent holds it instead (as if it had been paid to them): it stays with them
    with db.unit_of_work() as session:
        session.execute(
            text(
                "UPDATE proactive_entitlement SET person_code = :other "
                "WHERE person_code = :payee AND service_code = 'child-benefit'"
            ),
            {"other": other, "payee": payee},
        )
    law_change(db, amount=130, effective_from=month_start(1))
    assert _child_benefit_of(db, payee) is None
    held = _child_benefit_of(db, other)
    assert held is not None
    assert held[0] == "granted"
    assert held[1] != paid[1]
    assert _per_child(held[1], 13000)
    with db.reading() as session:
        assert session.execute(text(_PAID_TWICE)).scalar_one() == 0


@pytest.mark.postgres
@pytest.mark.parametrize("seeded_database", ["postgres"], indirect=True)
def test_postgresql_knows_the_tables_a_run_writes_once_its_first_chunk_is_done(
    seeded_database: Database,
) -> None:
    """A re-evaluation writes the first revisions, letters and data-usage records of their
    kind; without statistics of them, PostgreSQL's planner took each letter look-up of a
    later chunk for a scan of every letter of the sender. Once the first chunk is done the
    statistics are read again: the tables the first chunk wrote are known not to be empty."""
    db = seeded_database
    run = law_change(db, amount=120, effective_from=month_start(1))
    assert run.chunks_done == run.chunks_total > 1
    with db.reading() as session:
        known = dict(
            session.execute(
                text(
                    "SELECT relname, reltuples FROM pg_class WHERE relname IN "
                    "('notify_letter', 'proactive_entitlement_revision')"
                )
            ).all()
        )
    assert known["notify_letter"] > 0
    assert known["proactive_entitlement_revision"] > 0
