"""The platform of ``joinedup bench proactive --events``: the web process, and its workers
inside it or in ``joinedup worker`` processes beside it (one of them the busiest consumers
each in a process of their own, :func:`worker_commands`), started on a benchmark's database
and waited for until every consumer holds its lease."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

from joinedup.core.benchserver import platform_environment, start_platform, stop_platform
from joinedup.core.db import Database
from joinedup.core.sqlite import WriterHolders

if TYPE_CHECKING:
    from joinedup.demo.bench_buses import BenchBus


def start_platform_processes(
    directory: Path,
    url: str,
    port: int,
    *,
    workers: bool,
    apart: bool = False,
    processes: int = 1,
    bus: BenchBus,
    phase: str,
) -> list[subprocess.Popen[bytes]]:
    """The platform: one web process with its workers (``workers``), or (``apart`` too) a web
    process and ``processes`` ``joinedup worker`` processes on the same database; the web
    process alone for the reference. ``bus``: the bus they share, for the phase ``phase``.
    With workers, it returns once every consumer of the platform is ready on the bus
    (:func:`_wait_ready`)."""
    joinedup = str(Path(sys.executable).with_name("joinedup"))
    command = [joinedup, "serve", "--host", "127.0.0.1", "--port", str(port)]
    if workers and not apart:
        command.append("--with-workers")
    env = platform_environment(directory, url) | bus.environment(phase)
    started = [start_platform(command, env, port, quiet=True)]
    if not workers:
        return started
    try:
        if apart:
            started += [
                subprocess.Popen(  # noqa: S603 (our own command)
                    [joinedup, *arguments],
                    env=env,
                    stdout=subprocess.DEVNULL,
                    stderr=subprocess.DEVNULL,
                )
                for arguments in worker_commands(processes)
            ]
        database = Database(url)
        try:
            _wait_ready(started, lambda consumers: bus.ready(phase, database, consumers))
        finally:
            database.dispose()
    except BaseException:
        for process in started:
            stop_platform(process)
        raise
    return started


def worker_commands(processes: int) -> list[list[str]]:
    """The ``joinedup worker`` arguments of ``processes`` worker processes: the busiest
    consumers under this load (:data:`BUSIEST`) each in a process of their own, and one for
    the rest (the relay, the loops and every other consumer)."""
    if not 1 <= processes <= len(BUSIEST) + 1:
        raise ValueError(f"between 1 and {len(BUSIEST) + 1} worker processes")
    alone = list(BUSIEST[: processes - 1])
    if not alone:
        return [["worker"]]
    return [["worker", "--without", ",".join(alone)]] + [["worker", "--only", c] for c in alone]


def process_names(*, workers: bool, apart: bool, processes: int) -> list[str]:
    """What each process :func:`start_platform_processes` starts is, in its order."""
    if not workers:
        return ["web"]
    if not apart:
        return ["web and workers"]
    names = ["web"]
    for arguments in worker_commands(processes):
        if "--only" in arguments:
            names.append(f"worker: {arguments[-1]}")
        else:
            names.append("worker" if len(arguments) == 1 else "worker: relay and the rest")
    return names


def cpu_seconds(pid: int, *, ended_children: bool = False) -> float | None:
    """The processor time a process has used so far (user and system), from ``/proc``; with
    ``ended_children``, that of its children it has waited for too; None where there is none
    (not Linux, or the process is gone)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        # utime, stime (then cutime, cstime)
        ticks = sum(int(value) for value in fields[11 : 15 if ended_children else 13])
        return ticks / os.sysconf("SC_CLK_TCK")
    except (OSError, ValueError, IndexError):
        return None


def machine_ticks() -> tuple[int, int] | None:
    """The machine's processor time so far, all its processors together: (busy, all) in
    clock ticks, from ``/proc/stat`` (busy: neither idle nor waiting for a disk); None where
    there is none (not Linux)."""
    try:
        with Path("/proc/stat").open() as stat:
            fields = stat.readline().split()
        if fields[0] != "cpu":
            return None
        # user nice system idle iowait irq softirq steal (guest time is counted in user)
        ticks = [int(value) for value in fields[1:9]]
    except (OSError, ValueError, IndexError):
        return None
    return sum(ticks) - ticks[3] - ticks[4], sum(ticks)


def busy_percent(before: tuple[int, int] | None, after: tuple[int, int] | None) -> float | None:
    """How busy the machine's processors were between two :func:`machine_ticks` (%)."""
    if before is None or after is None or after[1] <= before[1]:
        return None
    return round(100 * (after[0] - before[0]) / (after[1] - before[1]), 1)


def processes_cpu_seconds(name: str) -> float | None:
    """The processor time every process of this machine called ``name`` has used so far, with
    that of their ended children (a server's backends that came and went); None where there
    is none (not Linux, or no such process)."""
    used: list[float] = []
    for comm in Path("/proc").glob("[0-9]*/comm"):
        try:
            if comm.read_text().strip() != name:
                continue
        except OSError:
            continue  # (gone meanwhile)
        seconds = cpu_seconds(int(comm.parent.name), ended_children=True)
        if seconds is not None:
            used.append(seconds)
    return sum(used) if used else None


def on_this_machine(host: str | None) -> bool:
    """Whether a server at ``host`` runs on this machine (its processes can be watched)."""
    return host in (None, "", "localhost", "127.0.0.1", "::1")


#: The consumers that work the most under births and deaths, the busiest first.
BUSIEST = ("proactive.births", "tellusonce.death", "proactive.deaths")


def _wait_ready(
    started: list[subprocess.Popen[bytes]], ready: Callable[[int], bool], timeout: float = 90.0
) -> None:
    """Wait until every consumer of the platform is ready on the bus (``ready(consumers)``:
    the processes ``started`` have started them): events submitted before would wait for
    their start-up, which on a busy machine takes seconds, and count it in their latencies.
    A process that exits meanwhile, or a wait longer than ``timeout`` seconds, is an error."""
    from joinedup.core.consumers import registry
    from joinedup.platform import handler_modules

    handler_modules()
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        exited = next((p for p in started if p.poll() is not None), None)
        if exited is not None:
            raise RuntimeError(f"a platform process exited with status {exited.returncode}")
        if ready(len(registry)):
            return
        time.sleep(0.1)
    raise RuntimeError(f"the platform did not start its consumers within {timeout:.0f} s")


def shape_of(apart: bool, processes: int) -> str:
    """The platform's shape in the benchmark's JSON."""
    if not apart:
        return "one process"
    return "web and worker processes" if processes == 1 else f"web and {processes} worker processes"


def describe_shape(apart: bool, processes: int) -> str:
    """The platform's shape in words, for the benchmark's notes."""
    if not apart:
        return "one platform process with its workers"
    if processes == 1:
        return "a web process and a worker process (relay and consumers)"
    split_off = BUSIEST[: processes - 1]
    own = ", ".join(split_off) + (" each" if len(split_off) > 1 else "")
    return (
        f"a web process and {processes} worker processes ({own} in its own, the relay and the "
        "other consumers in one)"
    )


def cpu_per_event(
    names: list[str],
    before: list[float | None],
    after: list[float | None],
    client: float,
    events: int,
) -> dict[str, float]:
    """Milliseconds of processor time per event each process used while the events were
    submitted and handled (the benchmark's own client too); empty without ``/proc``."""
    used: dict[str, float] = {}
    for name, start, end in zip(names, before, after, strict=True):
        if start is None or end is None:
            return {}
        used[name] = round(1000 * (end - start) / events, 2)
    used["benchmark client"] = round(1000 * client / events, 2)
    return used


def writer_per_event(
    holders: WriterHolders, names: list[str], pids: list[int], events: int
) -> dict[str, float]:
    """Milliseconds per event each process held SQLite's writers' turn while the events were
    submitted and handled (sampled: :class:`~joinedup.core.sqlite.WriterHolders`); a holder
    that is none of the processes started (a child of one, say) counted as the process it
    descends from, or as ``other``. Empty where nothing could be sampled."""
    if not holders.samples:
        return {}
    by_name = dict.fromkeys(names, 0.0)
    for pid in holders.held:
        name = _started_by(pid, dict(zip(pids, names, strict=True)))
        by_name[name] = by_name.get(name, 0.0) + holders.held_ms_per(pid, events)
    return {name: round(ms, 2) for name, ms in by_name.items()}


def _started_by(pid: int, started: dict[int, str]) -> str:
    """The name of the process started that ``pid`` is, or descends from (``other``)."""
    seen = 0
    while pid > 1 and seen < 8:
        if pid in started:
            return started[pid]
        try:
            pid = int(Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[1])
        except (OSError, ValueError, IndexError):
            break
        seen += 1
    return "other"
