"""How every ``joinedup bench …`` command reports: a readable table, or one JSON object.

A benchmark measures joinedup and its named reference in the same run and prints ratios
against it, so a figure is never read without the yardstick next to it.
"""

from __future__ import annotations

import json
import time
import tracemalloc
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from rich.console import Console
from rich.table import Table


@dataclass
class BenchReport:
    """The figures of one benchmark run.

    ``figures`` is the JSON object printed by ``--json``; ``rows`` is the table shown to people
    (first row = column headers); ``notes`` are printed under the table (targets, verdicts).
    """

    title: str
    figures: dict[str, Any]
    rows: list[Sequence[Any]] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    def emit(self, *, as_json: bool, console: Console | None = None) -> None:
        console = console or Console()
        if as_json:
            console.print_json(json.dumps(self.figures, default=str))
            return
        table = Table(title=self.title, title_justify="left")
        headers, *body = self.rows or [["figure", "value"], *self._flat_rows(self.figures)]
        for i, header in enumerate(headers):
            table.add_column(str(header), justify="left" if i == 0 else "right")
        for row in body:
            table.add_row(*(_fmt(cell) for cell in row))
        console.print(table)
        for note in self.notes:
            console.print(note)

    @staticmethod
    def _flat_rows(figures: Mapping[str, Any], prefix: str = "") -> Iterator[list[Any]]:
        for key, value in figures.items():
            if isinstance(value, Mapping):
                yield from BenchReport._flat_rows(value, f"{prefix}{key}.")
            else:
                yield [f"{prefix}{key}", value]


def _fmt(cell: Any) -> str:
    if isinstance(cell, float):
        return f"{cell:,.3f}" if abs(cell) < 100 else f"{cell:,.0f}"
    if isinstance(cell, int) and not isinstance(cell, bool):
        return f"{cell:,}"
    return str(cell)


def percentile(sorted_values: Sequence[float], pct: float) -> float:
    """The ``pct`` percentile (0–100) of already sorted values, nearest-rank."""
    if not sorted_values:
        return 0.0
    rank = max(0, min(len(sorted_values) - 1, round(pct / 100 * len(sorted_values) + 0.5) - 1))
    return float(sorted_values[rank])


@dataclass
class Stopwatch:
    seconds: float = 0.0
    peak_bytes: int = 0


@contextmanager
def measure(*, trace_memory: bool = False) -> Iterator[Stopwatch]:
    """Wall-clock time (and, optionally, peak Python heap) of the enclosed block."""
    watch = Stopwatch()
    if trace_memory:
        tracemalloc.start()
    start = time.perf_counter()
    try:
        yield watch
    finally:
        watch.seconds = time.perf_counter() - start
        if trace_memory:
            watch.peak_bytes = tracemalloc.get_traced_memory()[1]
            tracemalloc.stop()
