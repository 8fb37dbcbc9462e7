"""Births (and deaths) per second through the civil-registration entry point, over HTTP.

A quick measurement, not a ``joinedup bench`` command (yet): seeds a small demo country into a
fresh SQLite file, starts the platform with uvicorn (one process, as ``joinedup bench
exchange`` does), and sends distinct ``record-birth`` requests as the demo's registrar
(``civil-registration`` of the Population Register Office) over keep-alive connections for a
few seconds. Every request is a new registration (its own reference, mother and birth date),
so each answer is a real write: the registration, its event, the signed message log with both
bodies, three data-usage records and their transparency-log entries.

    .venv/bin/python scripts/measure_births.py [--persons 2000] [--connections 16] [--seconds 10]
        [--deaths 0.1] [--processes 1] [--profile FILE]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from datetime import date, timedelta
from pathlib import Path

from sqlalchemy import text

from joinedup.core.loadgen import LoadResult


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--persons", type=int, default=2000)
    parser.add_argument("--connections", type=int, default=16)
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--requests", type=int, default=30_000)
    parser.add_argument("--processes", type=int, default=1, help="uvicorn worker processes")
    parser.add_argument(
        "--deaths",
        type=float,
        default=0.0,
        help="share of the requests that record a death (of a distinct living man) instead",
    )
    parser.add_argument(
        "--profile",
        metavar="FILE",
        help="record the server with py-spy (a dev tool, not a dependency) into FILE "
        "(collapsed stacks, every thread) while the load runs",
    )
    arguments = parser.parse_args()

    directory = Path(tempfile.mkdtemp(prefix="joinedup-births-"))
    url = f"sqlite:///{directory / 'births.db'}"
    from joinedup.exchange.bench import _environment, _free_port, _start, _stop

    os.environ.update(_environment(directory, url))
    from joinedup.core.db import Database
    from joinedup.core.loadgen import build_request
    from joinedup.core.settings import get_settings
    from joinedup.demo import organisation, seed_country
    from joinedup.demo.exchange_setup import demo_client_credentials
    from joinedup.exchange import issue_access_token
    from joinedup.migrations import upgrade

    get_settings.cache_clear()
    upgrade(url)
    database = Database(url)
    seed = 2026
    seed_country(database, persons=arguments.persons, seed=seed, progress=False)
    client_id, secret = demo_client_credentials(seed, "population-register/civil-registration")
    with database.unit_of_work() as session:
        token = issue_access_token(session, client_id=client_id, client_secret=secret)
        mothers = list(
            session.scalars(
                text(
                    "SELECT personal_code FROM person WHERE sex = 'F' AND date_of_death IS NULL "
                    "AND birth_date BETWEEN '1975-01-01' AND '1995-12-31' ORDER BY id"
                )
            )
        )
        dying = list(
            session.scalars(
                text(
                    "SELECT personal_code FROM person WHERE sex = 'M' AND date_of_death IS NULL "
                    "ORDER BY birth_date, id"
                )
            )
        )
    database.dispose()
    population = organisation("population-register").member_code
    instance = get_settings().xroad_instance
    port = _free_port()
    host = f"127.0.0.1:{port}"
    first_day = date(2024, 1, 1)
    requests = []
    every = round(1 / arguments.deaths) if arguments.deaths > 0 else 0
    yesterday = (date.today() - timedelta(days=1)).isoformat()  # noqa: DTZ011 (a calendar day)
    for i in range(arguments.requests):
        if every and i % every == 0 and i // every < len(dying):
            requests.append(
                build_request(
                    "POST",
                    f"/r1/{instance}/GOV/{population}/population/record-death",
                    host=host,
                    headers=[
                        ("Authorization", f"Bearer {token.access_token}"),
                        ("X-Road-Client", f"{instance}/GOV/{population}/civil-registration"),
                        ("X-Road-Purpose", "civil-registration"),
                        ("Content-Type", "application/json"),
                    ],
                    body=json.dumps(
                        {
                            "reference": f"D-{i}",
                            "personalCode": dying[i // every],
                            "dateOfDeath": yesterday,
                        }
                    ).encode(),
                )
            )
            continue
        body = {
            "reference": f"M-{i}",
            "givenNames": "Mari",
            "familyName": "Tamm",
            "birthDate": (first_day + timedelta(days=i % 500)).isoformat(),
            "sex": "FM"[i % 2],
            "birthPlace": "Joinville",
            "parents": [mothers[i % len(mothers)]],
        }
        requests.append(
            build_request(
                "POST",
                f"/r1/{instance}/GOV/{population}/population/record-birth",
                host=host,
                headers=[
                    ("Authorization", f"Bearer {token.access_token}"),
                    ("X-Road-Client", f"{instance}/GOV/{population}/civil-registration"),
                    ("X-Road-Purpose", "civil-registration"),
                    ("Content-Type", "application/json"),
                ],
                body=json.dumps(body).encode(),
            )
        )
    server = _start(directory, url, port, arguments.processes)
    try:
        profiler: list[subprocess.Popen[bytes]] = []
        if arguments.profile:
            # started once the warm-up is over: the first calls configure SQLAlchemy's mappers
            # and fill caches, which is not what a sustained load costs
            command = [
                str(Path(sys.executable).with_name("py-spy")),
                "record",
                "--pid",
                str(server.pid),
                "--threads",
                "--gil",
                "--format",
                "raw",
                "--rate",
                "200",
                "--duration",
                str(max(int(arguments.seconds) - 1, 1)),
                "--output",
                arguments.profile,
            ]
            threading.Timer(
                2.5,
                lambda: profiler.append(
                    subprocess.Popen(command, stdout=subprocess.DEVNULL)  # noqa: S603 (a dev tool)
                ),
            ).start()
        cpu_before = _cpu_seconds(server.pid)
        result = asyncio.run(
            _drive(port, requests, arguments.connections, arguments.seconds, warmup=2.0)
        )
        cpu = _cpu_seconds(server.pid) - cpu_before
        for running in profiler:
            running.wait()
    finally:
        _stop(server)
        shutil.rmtree(directory, ignore_errors=True)
    sys.stdout.write(
        json.dumps(
            {
                "events_per_s": round(result.requests_per_s, 1),
                "deaths_share": arguments.deaths,
                "p50_ms": round(result.p(50), 2),
                "p99_ms": round(result.p(99), 2),
                "requests": result.requests,
                "statuses": result.statuses,
                "connections": arguments.connections,
                "persons": arguments.persons,
                "server_cpu_ms_per_birth": round(cpu * 1000 / max(result.requests, 1), 2),
                "load_average": os.getloadavg()[0],
                "cpus": os.cpu_count(),
            }
        )
        + "\n"
    )


async def _drive(
    port: int, requests: list[bytes], connections: int, seconds: float, *, warmup: float
) -> LoadResult:
    """Like ``joinedup bench exchange``'s load generator, but each connection sends its own
    share of the requests (every ``connections``-th), so no birth is sent twice (a repeat
    would be a cheap replay) and what is sent is the start of the list."""
    from joinedup.core.loadgen import _read_response

    result = LoadResult()
    start = time.perf_counter()
    measure_from, until = start + warmup, start + warmup + seconds

    async def connection(mine: list[bytes]) -> None:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        try:
            for request in mine:
                started = time.perf_counter()
                if started >= until:
                    break
                writer.write(request)
                status = await _read_response(reader)
                if started >= measure_from:
                    result.requests += 1
                    result.latencies.append(time.perf_counter() - started)
                    result.statuses[status] = result.statuses.get(status, 0) + 1
        finally:
            writer.close()

    await asyncio.gather(*(connection(requests[i::connections]) for i in range(connections)))
    result.seconds = max(min(time.perf_counter(), until) - measure_from, 1e-9)
    return result


def _cpu_seconds(pid: int) -> float:
    """User and system CPU seconds of the server process and its worker processes so far
    (Linux ``/proc``): births per CPU second is what the machine's other load does not
    change."""
    ticks = os.sysconf("SC_CLK_TCK")
    total = 0
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:  # the process ended meanwhile
            continue
        if stat.parent.name == str(pid) or fields[1] == str(pid):  # itself, or its child
            total += int(fields[11]) + int(fields[12])
    return total / ticks


if __name__ == "__main__":
    main()
