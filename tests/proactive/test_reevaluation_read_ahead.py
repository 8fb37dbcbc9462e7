"""Reading a re-evaluation's next chunk in a second process while one is written: the run
gives exactly what a run without it gives, the records of a read made elsewhere are the ones
written, a read gone stale (a stored entitlement changed since it began) is made again in the
chunk's transaction, and a read that fails elsewhere is made in the transaction."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest
from reevaluation_support import (
    child_benefit,
    letters_of,
    month_start,
    plan,
    revisions_of,
)
from sqlalchemy import select, text
from sqlalchemy.orm import Session

from joinedup.core.clock import utcnow
from joinedup.core.db import Database
from joinedup.core.keys import SigningKey
from joinedup.demo.agencies import organisation
from joinedup.exchange import exchange_client
from joinedup.proactive.reevaluation import run_reevaluation
from joinedup.proactive.reevaluation.chunk import chunk_job, process_chunk
from joinedup.proactive.reevaluation.law import ruleset_in_force, versions_in_force
from joinedup.proactive.reevaluation.models import LawVersion, Reevaluation, ReevaluationChunk
from joinedup.proactive.reevaluation.readahead import (
    ChunkJob,
    ChunkRead,
    ReadAhead,
    can_read_ahead,
    read_elsewhere,
)
from joinedup.proactive.reevaluation.service import _extract_service

_population = organisation("population-register")
#: A client subsystem other than the service's owner (the civil registration's).
REGISTRAR = f"{_population.member_class}/{_population.member_code}/civil-registration"


def _copy(database: Database, tmp_path: Path) -> Database:
    database.dispose()
    copy = tmp_path / "copy.db"
    shutil.copyfile(database.url.removeprefix("sqlite:///"), copy)
    return Database(f"sqlite:///{copy}")


def _of_run(database: Database, query: str, run_uid: uuid.UUID) -> list[str]:
    """``query``'s one column for the run (``:issue`` is the run's case reference)."""
    with database.reading() as session:
        rows = session.execute(text(query), {"issue": f"law-change/{run_uid}"}).scalars()
        return sorted(rows)


def _usages(database: Database, run_uid: uuid.UUID) -> list[str]:
    query = "SELECT subject_code FROM exchange_data_usage WHERE case_reference = :issue"
    return _of_run(database, query, run_uid)


def _messages(database: Database, run_uid: uuid.UUID) -> set[str]:
    query = "SELECT message_id FROM exchange_message WHERE issue = :issue"
    return set(_of_run(database, query, run_uid))


def test_reading_ahead_gives_exactly_what_a_run_without_it_gives(
    seeded: Database, tmp_path: Path
) -> None:
    alone = _copy(seeded, tmp_path)
    oracle_run = plan(alone, amount=135, effective_from=month_start(1), chunk_persons=100)
    oracle = run_reevaluation(alone, uid=oracle_run.uid, read_ahead=False)

    run = plan(seeded, amount=135, effective_from=month_start(1), chunk_persons=100)
    assert run.chunks_total >= 5
    done = run_reevaluation(seeded, uid=run.uid, read_ahead=True)

    assert done.status == "completed"
    assert (done.changes, done.letters, done.persons_done) == (
        oracle.changes,
        oracle.letters,
        oracle.persons_done,
    )
    expected = revisions_of(alone, oracle.version)
    assert len(expected) > 0
    assert revisions_of(seeded, done.version) == expected
    # one letter per change, to the same persons (references name new entitlements' ids)
    letters = letters_of(seeded, done.version)
    assert [to for to, _ in letters] == [to for to, _ in letters_of(alone, oracle.version)]
    assert len({reference for _, reference in letters}) == len(letters) == done.changes
    # every person read has one data-usage record, as without the read-ahead
    read = _usages(seeded, run.uid)
    assert read == _usages(alone, oracle_run.uid)
    alone.dispose()


def test_a_run_reads_ahead_on_either_database(seeded_database: Database) -> None:
    db = seeded_database
    run = plan(db, amount=135, effective_from=month_start(1), chunk_persons=100)
    done = run_reevaluation(db, uid=run.uid, read_ahead=True)
    assert (done.status, done.chunks_done) == ("completed", done.chunks_total)
    assert done.changes == done.letters == len(revisions_of(db, done.version)) > 0
    with db.reading() as session:
        persons = session.execute(text("SELECT count(*) FROM person")).scalar_one()
    assert len(set(_usages(db, run.uid))) == persons


def _run_law_chunk(
    session: Session, run_uid: uuid.UUID
) -> tuple[Reevaluation, LawVersion, ReevaluationChunk]:
    """A planned run of one chunk, its law version and its chunk."""
    run = session.scalar(select(Reevaluation).where(Reevaluation.uid == run_uid))
    assert run is not None
    law = session.get(LawVersion, run.law_version_id)
    assert law is not None
    chunk = session.scalar(select(ReevaluationChunk).where(ReevaluationChunk.run_id == run.id))
    assert chunk is not None
    return run, law, chunk


def _job(database: Database, run_uid: uuid.UUID) -> ChunkJob:
    with database.reading() as session:
        run, law, chunk = _run_law_chunk(session, run_uid)
        return chunk_job(
            run,
            law,
            seq=chunk.seq,
            first_ref=chunk.first_ref,
            end_ref=chunk.end_ref,
            specs=[child_benefit()],
            extract_service=_extract_service(session),
            versions=versions_in_force(session, law.ruleset),
        )


def _process(database: Database, run_uid: uuid.UUID, prepared: ChunkRead | None) -> None:
    with database.unit_of_work() as session:
        run, law, chunk = _run_law_chunk(session, run_uid)
        process_chunk(
            session,
            run=run,
            law=law,
            ruleset=ruleset_in_force(session, law.ruleset),
            chunk=chunk,
            specs=[child_benefit()],
            extract_service=_extract_service(session),
            prepared=prepared,
        )


def test_a_fresh_read_made_elsewhere_is_used_and_its_own_records_written(
    seeded: Database,
) -> None:
    run = plan(seeded, amount=135, effective_from=month_start(1), chunk_persons=100_000)
    prepared = read_elsewhere(seeded.url, _job(seeded, run.uid))
    (read,) = prepared.groups.values()
    assert read.recordings
    # the members' keys never leave the run's process
    assert all(r.message is None or r.message.client_key is None for r in read.recordings)
    made = {r.message.row["message_id"] for r in read.recordings if r.message is not None}

    _process(seeded, run.uid, prepared)

    assert _messages(seeded, run.uid) == made
    assert len(_usages(seeded, run.uid)) == int(read.persons.in_range.size)


def test_a_read_gone_stale_is_made_again_in_the_chunks_transaction(seeded: Database) -> None:
    """A holder dies after the chunk was read ahead and the death is decided meanwhile (the
    entitlement ended): the chunk must not grant the dead parent the benefit again from what
    it read before."""
    with seeded.reading() as session:
        holder = session.execute(
            text(
                "SELECT person_code FROM proactive_entitlement WHERE service_code = "
                "'child-benefit' AND status = 'granted' AND occasion = '' LIMIT 1"
            )
        ).scalar_one_or_none()
    if holder is None:  # the seeded country holds none yet: the law in force gives them
        first = plan(seeded, amount=120, effective_from=month_start(1), chunk_persons=100_000)
        run_reevaluation(seeded, uid=first.uid, read_ahead=False)
        with seeded.reading() as session:
            holder = session.execute(
                text(
                    "SELECT person_code FROM proactive_entitlement WHERE service_code = "
                    "'child-benefit' AND status = 'granted' AND occasion = '' LIMIT 1"
                )
            ).scalar_one()
    run = plan(seeded, amount=150, effective_from=month_start(2), chunk_persons=100_000)
    prepared = read_elsewhere(seeded.url, _job(seeded, run.uid))
    stale_messages = {
        r.message.row["message_id"]
        for read in prepared.groups.values()
        for r in read.recordings
        if r.message is not None
    }

    with seeded.unit_of_work() as session:  # what the death's consumer does meanwhile
        session.execute(
            text("UPDATE person SET date_of_death = :day WHERE personal_code = :code"),
            {"day": month_start(0), "code": holder},
        )
        session.execute(
            text(
                "UPDATE proactive_entitlement SET status = 'ended', revision = revision + 1, "
                "updated_at = :now WHERE person_code = :code AND service_code = 'child-benefit'"
            ),
            {"now": utcnow(), "code": holder},
        )

    _process(seeded, run.uid, prepared)

    with seeded.reading() as session:
        status = session.execute(
            text(
                "SELECT status FROM proactive_entitlement WHERE person_code = :code "
                "AND service_code = 'child-benefit' AND occasion = ''"
            ),
            {"code": holder},
        ).scalar_one()
    assert status == "ended"
    with seeded.reading() as session:
        version = session.execute(
            text("SELECT version FROM proactive_law_version ORDER BY id DESC LIMIT 1")
        ).scalar_one()
    assert holder not in {person for person, *_ in revisions_of(seeded, version)}
    # read again in the transaction: the stale read's records were never written
    written = _messages(seeded, run.uid)
    assert written
    assert not written & stale_messages


def test_a_read_that_fails_elsewhere_is_made_in_the_transaction(seeded: Database) -> None:
    run = plan(seeded, amount=135, effective_from=month_start(1), chunk_persons=100_000)
    job = _job(seeded, run.uid)
    wrong = ChunkJob(**{**job.__dict__, "versions": (uuid.uuid4(),)})  # another law in force
    ahead = ReadAhead(seeded.url)
    try:
        ahead.read(wrong)
        assert ahead.result(wrong.seq) is None
        assert ahead.result(99) is None  # never asked for
    finally:
        ahead.close()
    _process(seeded, run.uid, None)
    assert len(_usages(seeded, run.uid)) > 0


def test_records_made_by_another_client_are_refused(seeded: Database) -> None:
    run = plan(seeded, amount=135, effective_from=month_start(1), chunk_persons=100_000)
    prepared = read_elsewhere(seeded.url, _job(seeded, run.uid))
    (read,) = prepared.groups.values()
    with seeded.unit_of_work() as session:
        with (
            exchange_client(session, client=REGISTRAR, log_signer=SigningKey.generate()) as calls,
            pytest.raises(ValueError, match="another client"),
        ):
            calls.attach_records(read.recordings)
        session.rollback()


def test_an_in_memory_database_is_never_read_elsewhere(tmp_path: Path) -> None:
    for url, expected in (
        ("sqlite://", False),
        ("sqlite:///:memory:", False),
        (f"sqlite:///{tmp_path / 'file.db'}", True),
    ):
        database = Database(url)
        assert can_read_ahead(database) is expected
        database.dispose()


def test_the_read_ahead_process_ends_with_a_killed_run(tmp_path: Path) -> None:
    """A run killed (SIGKILL: it cannot say so) leaves no read-ahead process behind."""
    script = Path(__file__).with_name("read_ahead_orphan.py")
    with subprocess.Popen(
        [sys.executable, str(script), f"sqlite:///{tmp_path / 'x.db'}"],
        stdout=subprocess.PIPE,
        text=True,
    ) as run:
        assert run.stdout is not None
        child = int(run.stdout.readline())
        os.kill(child, 0)  # running
        run.kill()
        run.wait(timeout=30)
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        try:
            os.kill(child, 0)
        except ProcessLookupError:
            return
        time.sleep(0.1)
    os.kill(child, signal.SIGKILL)
    pytest.fail("the read-ahead process outlived the run")


def test_chunks_are_read_and_written_with_garbage_collection_paused(
    seeded: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A chunk's hundreds of thousands of short-lived objects set the cyclic collector off
    again and again, each pass walking the whole heap: a chunk runs with it paused."""
    import gc

    import joinedup.proactive.reevaluation.readahead as readahead_module
    import joinedup.proactive.reevaluation.service as service_module

    seen: list[tuple[str, bool]] = []
    write, read = service_module.process_chunk, readahead_module.read_group

    def writing(*args: object, **kwargs: object) -> object:
        seen.append(("write", gc.isenabled()))
        return write(*args, **kwargs)  # type: ignore[arg-type]

    def reading(*args: object, **kwargs: object) -> object:
        seen.append(("read", gc.isenabled()))
        return read(*args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(service_module, "process_chunk", writing)
    monkeypatch.setattr(readahead_module, "read_group", reading)
    run = plan(seeded, amount=135, effective_from=month_start(1), chunk_persons=100)
    read_elsewhere(seeded.url, _job(seeded, run.uid))  # what the read-ahead process runs
    done = run_reevaluation(seeded, uid=run.uid, read_ahead=False)
    assert done.status == "completed"
    assert seen[0] == ("read", False)
    assert [state for kind, state in seen if kind == "write"] == [False] * done.chunks_total
