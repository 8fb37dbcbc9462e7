"""``joinedup bench portal``: the citizen portal's main pages under ``users`` signed-in people.

On a fresh SQLite database in a temporary directory it seeds a demo country, opens one web
session per user (the identity context's own use case: the sign-in flow itself is not what is
measured), sends each user a letter, starts the platform with uvicorn in ``processes``
processes on loopback, the connections dealt to the process with the fewest open
(:mod:`joinedup.web.processes`), and drives it with the lean keep-alive load generator, one
connection per user, each sending its user's session cookie:

- **reference**: the static landing page ``/`` (templates and middleware, no session, no
  database), measured in the same run with the same connections;
- each **main page** on its own (start, my overview, who used my data, my entitlements, my
  messages, acting for, consents: the pages the portal's issue names), then all of them
  **mixed** (the headline figures). "My overview" reads every register through the
  exchange, and "acting for" the population and business registers (whom the person may act
  for), so each view writes its message-log and data-usage records before it answers. The
  users are adults; of those who are women of 18 to 45, every second has had a child today,
  through civil registration and the proactive services: she holds entitlements and the
  letters deciding them, and acts for the child.

Target: p95 at most 100 ms for the mixed main pages.
"""

from __future__ import annotations

import logging
import os
import subprocess
import tempfile
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import text

from joinedup.core.benchmark import BenchReport
from joinedup.core.benchserver import (
    drive,
    free_port,
    platform_environment,
    start_platform,
    stop_platform,
    uvicorn_command,
)
from joinedup.core.clock import today, utcnow
from joinedup.core.db import Database
from joinedup.core.loadgen import LoadResult, build_request
from joinedup.core.logging import configure_logging, is_configured
from joinedup.demo.births import Birth, register_births

#: The pages measured (path, name). Every one needs a signed-in person.
MAIN_PAGES: tuple[tuple[str, str], ...] = (
    ("/portal", "start"),
    ("/portal/overview", "my overview"),
    ("/portal/data-usage", "who used my data"),
    ("/portal/entitlements", "my entitlements"),
    ("/portal/messages", "my messages"),
    ("/portal/acting-for", "acting for"),
    ("/portal/consents", "consents"),
)
#: Of the users who are women of 18 to 45, every this many has a child before the run: she
#: sees entitlements, the letters deciding them and a child to act for.
MOTHER_EVERY = 2
ADULT, MOTHER_AGES = 18, (18, 45)
TARGET_P95_MS = 100.0
SESSION_COOKIE = "joinedup-session"  # the development name (no __Host- prefix on plain HTTP)


@dataclass(frozen=True)
class PortalUser:
    personal_code: str
    token: str


def _prepare(
    directory: Path, url: str, port: int, *, persons: int, users: int
) -> tuple[list[PortalUser], int]:
    """Migrate, seed, open a session per user (the first living adults) and send each a
    letter; of the users who are women of 18 to 45, every :data:`MOTHER_EVERY`-th has a
    child registered today, and the proactive services react (so she holds entitlements and
    their letters, and acts for the child). Returns the users and how many had a child."""
    os.environ.update(platform_environment(directory, url, port=port))
    from joinedup.core.settings import get_settings

    get_settings.cache_clear()
    if not is_configured():  # the reactions log; the report alone goes to stdout
        configure_logging(get_settings())  # to standard error
    from joinedup import identity, notify
    from joinedup.demo.agencies import organisation
    from joinedup.demo.seed import seed_country
    from joinedup.migrations import upgrade

    upgrade(url)
    database = Database(url)
    try:
        seed_country(database, persons=persons, seed=11, progress=False, accounts=False)
        with database.reading() as session:
            rows = session.execute(
                text(
                    "SELECT personal_code, sex, birth_date FROM person "
                    "WHERE date_of_death IS NULL AND birth_date <= :adult ORDER BY id LIMIT :n"
                ),
                {"n": users, "adult": _years_before(today(), ADULT).isoformat()},
            ).all()
        codes = [row[0] for row in rows]
        if len(codes) < users:
            raise ValueError(f"the country has only {len(codes)} living adults for {users} users")
        sib = organisation("social-insurance")
        found = []
        with database.unit_of_work() as session:
            for number, code in enumerate(codes):
                token, _ = identity.start_web_session(
                    session,
                    identity=identity.VerifiedIdentity(
                        personal_code=code,
                        given_names=f"User {number}",
                        family_name="Bench",
                        level_of_assurance=identity.LevelOfAssurance.SUBSTANTIAL,
                        methods=("pwd",),
                        authenticated_at=utcnow(),
                        issuer="bench",
                        id_token="",
                    ),
                    lifetime=timedelta(hours=2),
                )
                found.append(PortalUser(code, token))
            notify.send_letters(
                session,
                [
                    notify.NewLetter(
                        recipient_code=code,
                        sender=f"{sib.member_class}/{sib.member_code}",
                        kind="information",
                        subject="Your pension statement",
                        paragraphs=["Your statement for the year is ready."],
                        reference=f"bench-{code}",
                    )
                    for code in codes
                ],
                actor="bench",
            )
        born = today()
        # born at most 18 years ago, and less than 46 (not yet 46)
        latest = _years_before(born, MOTHER_AGES[0])
        earliest = _years_before(born, MOTHER_AGES[1] + 1)
        women = [
            code
            for code, sex, birth_date in rows
            if sex == "F" and earliest < _day(birth_date) <= latest
        ]
        mothers = women[::MOTHER_EVERY]
        register_births(database, [Birth(parents=(code,), born=born) for code in mothers])
        return found, len(mothers)
    finally:
        database.dispose()


def _years_before(day: date, years: int) -> date:
    """The same day ``years`` earlier (29 February: the 28th)."""
    try:
        return day.replace(year=day.year - years)
    except ValueError:
        return day.replace(year=day.year - years, day=28)


def _day(value: object) -> date:
    return value if isinstance(value, date) else date.fromisoformat(str(value))


def _start(directory: Path, url: str, port: int, processes: int) -> subprocess.Popen[bytes]:
    env = platform_environment(directory, url, port=port)
    return start_platform(uvicorn_command(port, processes), env, port, timeout=60)


def _load(port: int, requests: list[bytes], connections: int, seconds: float) -> LoadResult:
    return drive(
        port, requests, connections=connections, seconds=seconds, warmup=min(1.0, seconds / 2)
    )


def _requests(users: Sequence[PortalUser], paths: Sequence[str], port: int) -> list[bytes]:
    """User-major: consecutive requests are one user's pages (each connection starts at
    another user)."""
    host = f"127.0.0.1:{port}"
    return [
        build_request(
            "GET",
            path,
            host=host,
            headers=[("Cookie", f"{SESSION_COOKIE}={user.token}"), ("Accept", "text/html")],
        )
        for user in users
        for path in paths
    ]


def _page_number(k: int) -> Callable[[int], bool]:
    """Whether a request of the mixed run (by its index) is of the ``k``-th main page."""
    return lambda index: index % len(MAIN_PAGES) == k


def _row(name: str, result: LoadResult, reference: LoadResult) -> list[Any]:
    p95 = result.p(95)
    return [
        name,
        round(result.requests_per_s, 1),
        round(result.p(50), 2),
        round(p95, 2),
        result.errors,
        round(p95 / TARGET_P95_MS, 2),
        round(p95 / reference.p(95), 2) if reference.p(95) else 0.0,
    ]


def run(
    *, persons: int = 2_000, users: int = 50, seconds: float = 4.0, processes: int = 2
) -> BenchReport:
    """Measure the reference and the main pages; ``figures`` has ``p50_ms``, ``p95_ms`` and
    ``pages_per_s`` of the mixed main pages, per page and the reference's."""
    with tempfile.TemporaryDirectory(prefix="joinedup-bench-portal-") as name:
        directory = Path(name)
        url = f"sqlite:///{directory / 'joinedup.db'}"
        port = free_port()
        quiet = logging.root.manager.disable
        logging.disable(logging.INFO)  # the migrations' and the seed's lines are not figures
        try:
            portal_users, mothers = _prepare(directory, url, port, persons=persons, users=users)
        finally:
            logging.disable(quiet)
        server = _start(directory, url, port, processes)
        try:
            landing = [build_request("GET", "/", host=f"127.0.0.1:{port}", headers=[])]
            reference = _load(port, landing, users, seconds)
            pages = {
                label: _load(port, _requests(portal_users, [path], port), users, seconds)
                for path, label in MAIN_PAGES
            }
            mixed = _load(
                port, _requests(portal_users, [p for p, _ in MAIN_PAGES], port), users, seconds
            )
        finally:
            stop_platform(server)
    p95 = mixed.p(95)
    # the mix is user-major (a user's pages in turn): a request's page is its index's place
    in_mix = {
        label: {
            "p50_ms": round(mixed.p_of(50, _page_number(k)), 3),
            "p95_ms": round(mixed.p_of(95, _page_number(k)), 3),
        }
        for k, (_, label) in enumerate(MAIN_PAGES)
    }
    figures: dict[str, Any] = {
        "p50_ms": round(mixed.p(50), 3),
        "p95_ms": round(p95, 3),
        "pages_per_s": round(mixed.requests_per_s, 1),
        "errors": mixed.errors,
        "target_p95_ms": TARGET_P95_MS,
        "reference": {
            "p50_ms": round(reference.p(50), 3),
            "p95_ms": round(reference.p(95), 3),
            "pages_per_s": round(reference.requests_per_s, 1),
        },
        "pages": {
            label: {
                "p50_ms": round(result.p(50), 3),
                "p95_ms": round(result.p(95), 3),
                "pages_per_s": round(result.requests_per_s, 1),
                "errors": result.errors,
            }
            for label, result in pages.items()
        },
        "mixed_by_page": in_mix,
        "users": users,
        "mothers": mothers,
    }
    rows: list[Sequence[Any]] = [
        ["page", "pages/s", "p50 ms", "p95 ms", "errors", "p95 / target", "p95 / reference"],
        _row("reference: landing page /", reference, reference),
        *(_row(label, result, reference) for label, result in pages.items()),
        _row("main pages mixed", mixed, reference),
    ]
    notes = [
        f"{users} signed-in users (adults; {mothers} had a child today, so hold entitlements "
        f"and act for the child), one keep-alive connection each; {persons:,} persons, "
        f"SQLite (WAL), {processes} uvicorn processes (uvloop, httptools) sharing the "
        "connections evenly, "
        f"{seconds:g} s measured per row after a warm-up, on {os.cpu_count()} cores shared with "
        "the load generator.",
        "My overview reads 7 registers through the exchange per view, acting for 2 or more: "
        "each read is signed, logged and transparency-logged before the page is answered.",
        "In the mixed run, p95 by page: "
        + ", ".join(f"{label} {v['p95_ms']:.0f} ms" for label, v in in_mix.items())
        + ".",
        f"Target: p95 at most {TARGET_P95_MS:g} ms for the mixed main pages: "
        f"{'met' if p95 <= TARGET_P95_MS and not mixed.errors else 'NOT met'}.",
    ]
    errors = {label: r.statuses for label, r in pages.items() if r.errors}
    if errors or mixed.errors:
        notes.append(f"Errors (status counts): {errors or ''} mixed {mixed.statuses}")
    return BenchReport(
        title="Citizen portal: main pages of signed-in users vs the static landing page",
        figures=figures,
        rows=rows,
        notes=notes,
    )
