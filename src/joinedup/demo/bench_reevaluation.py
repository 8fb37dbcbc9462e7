"""``joinedup bench proactive --reevaluate N``: re-evaluating N persons after a change of the
law, end to end, against the 60 s target for 1,000,000 persons.

On a fresh SQLite database in a temporary directory: the demo government and its exchange,
N synthetic persons with their households (addresses, residences, relations) loaded in bulk
(the registries' batch imports, without the economy the full demo seed draws), and every
child benefit the law in force gives them, imported as held before the change. Then the
measured part: publish ``child benefit per child = 130.00`` from the first day of next
month, plan the re-evaluation and run it — the bulk reads through the exchange (a data-usage
record per person), the columnar evaluation, the comparison, the changed entitlements with
their revisions and events, one decision letter per change, the chunk checkpoints.

The reference, measured in the same run on the same database: reading the same persons
straight from the registries and evaluating them (the rules engine's part alone, nothing
recorded or written).
"""

from __future__ import annotations

import tempfile
import time
from datetime import date
from pathlib import Path
from typing import Any

import numpy as np
from sqlalchemy import text

from joinedup import registries
from joinedup.core.benchmark import BenchReport
from joinedup.core.clock import today
from joinedup.core.db import Database
from joinedup.core.keys import SigningKey
from joinedup.demo.agencies import ACTOR, create_government, organisation
from joinedup.demo.bench_databases import bench_databases
from joinedup.demo.exchange_setup import setup_exchange
from joinedup.demo.population import generate_population
from joinedup.demo.seed import _addresses, _batches, _span
from joinedup.exchange import extract_answer
from joinedup.migrations import upgrade
from joinedup.proactive.reevaluation import (
    ServiceSpec,
    publish_law_version,
    ruleset_in_force,
    run_reevaluation,
    start_reevaluation,
)
from joinedup.proactive.reevaluation.chunk import service_values
from joinedup.proactive.reevaluation.inputs import build_inputs
from joinedup.proactive.reevaluation.seeding import import_entitlements
from joinedup.proactive.reevaluation.service import CHUNK_PERSONS
from joinedup.rules import Period

TARGET_SECONDS_PER_MILLION = 60.0
NEW_AMOUNT = "130"
LOAD_BATCH = 100_000


def child_benefit_spec() -> ServiceSpec:
    sib = organisation("social-insurance")
    return ServiceSpec(
        code="child-benefit",
        names={"en": "child benefit", "et": "lapsetoetus"},
        owner_member_class=str(sib.member_class),
        owner_member_code=sib.member_code,
        owner_subsystem="benefits",
        delivery_mode="automatic",
        ruleset="demo",
        variable="child_benefit",
        purpose="child-benefit",
        legal_basis="Family Benefits Act § 23 (1)",
        legal_basis_url=None,
    )


def next_month() -> date:
    day = today()
    return date(day.year + day.month // 12, day.month % 12 + 1, 1)


def load_country(database: Database, *, persons: int, seed: int) -> int:
    """The government, its exchange, and ``persons`` people with their homes and families."""
    with database.unit_of_work() as session:
        create_government(session, founded=date(1992, 1, 1))
        setup_exchange(session, seed=seed)
    population = generate_population(
        np.random.default_rng(seed), persons=persons, reference=today(), first_serial_rank=0
    )
    relation_key = np.minimum(population.rel_person, population.rel_related)
    for g0, g1 in _batches(population, LOAD_BATCH):
        p0, p1 = int(population.group_start[g0]), int(population.group_start[g1])
        people = slice(p0, p1)
        dwellings, local = np.unique(population.dwelling[people], return_inverse=True)
        rel = _span(relation_key, p0, p1)
        with database.unit_of_work() as session:
            address_ids = registries.import_addresses(
                session, addresses=_addresses(population.addresses, dwellings), actor=ACTOR
            )
            registries.import_population(
                session,
                persons=registries.PersonColumns(
                    personal_code=population.personal_code[people],
                    given_names=population.given_names[people],
                    family_name=population.family_name[people],
                    birth_family_name=population.birth_family_name[people],
                    name_changed_on=population.name_changed_on[people],
                    birth_date=population.birth_date[people],
                    birth_place=population.birth_place[people],
                    sex=population.sex[people],
                    citizenship=population.citizenship[people],
                    date_of_death=population.date_of_death[people],
                    address_id=address_ids[local.reshape(p1 - p0)],
                    resident_since=population.resident_since[people],
                ),
                relations=registries.RelationColumns(
                    kind=population.rel_kind[rel],
                    person=population.rel_person[rel] - p0,
                    related=population.rel_related[rel] - p0,
                    valid_from=population.rel_from[rel],
                    valid_to=population.rel_to[rel],
                    end_reason=population.rel_reason[rel],
                ),
                actor=ACTOR,
            )
    return persons


def import_baseline(database: Database, spec: ServiceSpec, on: date) -> int:
    with database.reading() as session:
        low, high = registries.person_reference_range(session)
    held = 0
    for first in range(low, high + 1, LOAD_BATCH):
        with database.unit_of_work() as session:
            held += import_entitlements(
                session,
                services=[spec],
                first_ref=first,
                end_ref=min(first + LOAD_BATCH, high + 1),
                on=on,
                actor=ACTOR,
            )
    return held


def engine_alone(database: Database, spec: ServiceSpec, on: date, chunk: int) -> float:
    """The reference: the same chunks read straight from the registries and evaluated."""
    started = time.perf_counter()
    with database.reading() as session:
        ruleset = ruleset_in_force(session, spec.ruleset)
        low, high = registries.person_reference_range(session)
        period = Period.parse(f"{on:%Y-%m}")
        for first in range(low, high + 1, chunk):
            found = registries.population_extract(
                session, first_ref=first, end_ref=min(first + chunk, high + 1), on=on
            )
            body = extract_answer(found)
            inputs = build_inputs(ruleset, body, period)
            service_values(ruleset, inputs, [spec], period)
    return time.perf_counter() - started


def _count(database: Database, sql: str) -> int:
    with database.reading() as session:
        return int(session.execute(text(sql)).scalar_one())


def run(
    *,
    persons: int,
    seed: int = 7,
    chunk_persons: int = CHUNK_PERSONS,
    database_url: str | None = None,
) -> BenchReport:
    """``database_url``: a PostgreSQL server to run on, in a database of the run's own
    (:mod:`joinedup.demo.bench_databases`), instead of a SQLite file; a URL that cannot be used
    is :class:`~joinedup.demo.bench_databases.BenchDatabaseRefused`."""
    with tempfile.TemporaryDirectory(prefix="joinedup-bench-reevaluate-") as directory:
        databases = bench_databases(Path(directory), database_url)
        kind = databases.kind
        url = databases.seeded_url
        database: Database | None = None
        try:
            upgrade(url)
            database = Database(url)
            signer = SigningKey.generate()
            started = time.perf_counter()
            load_country(database, persons=persons, seed=seed)
            database.analyze_after_bulk_load()  # (the baseline reads the extract)
            spec = child_benefit_spec()
            effective = next_month()
            held = import_baseline(database, spec, effective)
            database.analyze_after_bulk_load()
            setup_s = time.perf_counter() - started
            usage_before = _count(database, "SELECT count(*) FROM exchange_data_usage")

            started = time.perf_counter()
            with database.unit_of_work() as session:
                law = publish_law_version(
                    session,
                    ruleset="demo",
                    changes=[f"family.child_benefit.amount_per_child={NEW_AMOUNT}"],
                    effective_from=effective,
                    citation="Family Benefits (Amendment) Act §1 (benchmark)",
                    owner=f"{spec.owner_member_class}/{spec.owner_member_code}",
                    actor="bench",
                )
                planned = start_reevaluation(
                    session,
                    law_version=law.uid,
                    services=[spec],
                    actor="bench",
                    chunk_persons=chunk_persons,
                )
            done = run_reevaluation(database, uid=planned.uid, log_signer=signer)
            total_s = time.perf_counter() - started
            usages = _count(database, "SELECT count(*) FROM exchange_data_usage") - usage_before
            reference_s = engine_alone(database, spec, effective, chunk_persons)
        finally:
            try:
                if database is not None:
                    database.dispose()
            finally:
                databases.close()
    target_s = TARGET_SECONDS_PER_MILLION * persons / 1_000_000
    per_s = persons / total_s if total_s else 0.0
    figures = {
        "persons": persons,
        "seconds": round(total_s, 3),
        "persons_per_s": round(per_s, 1),
        "changes": done.changes,
        "letters": done.letters,
        "data_usage_records": usages,
        "chunks": done.chunks_total,
        "entitlements_before": held,
        "reference_seconds": round(reference_s, 3),
        "target_seconds": round(target_s, 3),
        "setup_seconds": round(setup_s, 3),
        "status": done.status,
        "database": kind,
    }
    rows: list[Any] = [
        ["figure", "end to end", "reference: read + evaluate only", "end to end / reference"],
        ["seconds", total_s, reference_s, f"{total_s / reference_s:.1f}×" if reference_s else "—"],
        [
            "persons/s",
            per_s,
            persons / reference_s if reference_s else 0.0,
            f"{reference_s / total_s:.3f}×" if total_s else "—",
        ],
    ]
    verdict = "met" if total_s <= target_s else "MISSED"
    notes = [
        f"{persons:,} persons, {done.chunks_total} chunks of {chunk_persons:,}; change: child "
        f"benefit per child {NEW_AMOUNT}.00 from {effective}. {done.changes:,} entitlements "
        f"changed (of {held:,} held), {done.letters:,} letters, {usages:,} data-usage records.",
        f"Target: {persons:,} persons in ≤ {target_s:.1f} s (60 s per million): {verdict} "
        f"({total_s / target_s:.2f}× the target) on {kind}"
        f"{'' if kind == 'SQLite' else ' (the target is set for SQLite)'}. Set-up (not measured): "
        f"{setup_s:.1f} s.",
    ]
    return BenchReport("Re-evaluation after a change of the law", figures, rows, notes)
