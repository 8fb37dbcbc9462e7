"""``joinedup bench log``: transparency-log appends per second, batched against one per commit.

Both are measured in the same run on fresh, migrated SQLite files in a temporary directory
under the data directory (the disk the embedded deployment writes to): ``entries`` entries
appended ``batch_size`` per transaction through :func:`append`, and the reference — the same
records one entry per transaction, as a naive log would append them — on at most 5,000
entries. Then the batched log is verified offline, as ``joinedup log verify`` would.
Records are realistic ~200-byte message-log records, made before the clock starts.
"""

from __future__ import annotations

import hashlib
import tempfile
import uuid
from pathlib import Path

from joinedup.core.benchmark import BenchReport, measure
from joinedup.core.db import Database
from joinedup.core.keys import SigningKey
from joinedup.core.settings import Settings
from joinedup.core.translog.service import append
from joinedup.core.translog.verify import verify_log
from joinedup.migrations import upgrade

REFERENCE_ENTRIES = 5000
TARGET_APPENDS_PER_S = 20_000


def records(count: int, *, seed: int = 7) -> list[bytes]:
    """``count`` message-log records of about 200 bytes (deterministic for a seed)."""
    made = []
    for i in range(count):
        digest = hashlib.sha256(f"{seed}:{i}".encode()).hexdigest()
        message_id = uuid.UUID(digest[:32])
        made.append(
            (
                '{"v":1,"kind":"exchange.message","client":"JOINEDUP/GOV/70000310/benefits",'
                '"service":"JOINEDUP/GOV/70000001/population/persons","purpose":"child-benefit",'
                f'"id":"{message_id}","request_sha256":"{digest}","at":{1767225600000 + i}}}'
            ).encode()
        )
    return made


def _append_all(database: Database, data: list[bytes], batch_size: int, signer: SigningKey) -> None:
    for start in range(0, len(data), batch_size):
        with database.unit_of_work() as session:
            append(
                session,
                kind="exchange.message",
                leaf_inputs=data[start : start + batch_size],
                signer=signer,
            )


def run(settings: Settings, *, entries: int, batch_size: int) -> BenchReport:
    """Measure batched appends and the one-per-transaction reference in the same run."""
    if entries < 1 or batch_size < 1:
        raise ValueError("entries and batch_size must be at least 1")
    signer = SigningKey.generate()
    data = records(entries)
    reference_count = min(entries, REFERENCE_ENTRIES)
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=settings.data_dir, prefix="bench-log-") as tmp:
        batched_url = f"sqlite:///{Path(tmp) / 'batched.db'}"
        reference_url = f"sqlite:///{Path(tmp) / 'reference.db'}"
        upgrade(batched_url)
        upgrade(reference_url)

        database = Database(batched_url)
        try:
            with measure() as batched:
                _append_all(database, data, batch_size, signer)
        finally:
            database.dispose()
        database = Database(reference_url)
        try:
            with measure() as reference:
                _append_all(database, data[:reference_count], 1, signer)
        finally:
            database.dispose()
        with measure() as verifying:
            report = verify_log(batched_url, keys=[signer.verifying_key])

    appends_per_s = entries / batched.seconds
    reference_per_s = reference_count / reference.seconds
    ratio = appends_per_s / reference_per_s
    tree_size = report.latest.tree_size if report.latest else 0
    figures = {
        "appends_per_s": round(appends_per_s),
        "reference_appends_per_s": round(reference_per_s),
        "ratio": round(ratio, 1),
        "entries": entries,
        "batch_size": batch_size,
        "reference_entries": reference_count,
        "tree_size": tree_size,
        "verify_s": round(verifying.seconds, 3),
        "verified_intact": report.intact,
        "database": "sqlite",
    }
    verdict = "meets" if appends_per_s >= TARGET_APPENDS_PER_S else "MISSES"
    return BenchReport(
        title="Transparency log: appends on SQLite (WAL)",
        figures=figures,
        rows=[
            ["append mode", "entries", "seconds", "appends/s", "× reference"],
            [
                f"batched ({batch_size:,} per transaction)",
                entries,
                batched.seconds,
                appends_per_s,
                ratio,
            ],
            [
                "reference: one per transaction",
                reference_count,
                reference.seconds,
                reference_per_s,
                1.0,
            ],
            [
                "offline verify of the batched log",
                tree_size,
                verifying.seconds,
                tree_size / verifying.seconds,
                "—",
            ],
        ],
        notes=[
            f"Target ≥ {TARGET_APPENDS_PER_S:,} appends/s: {verdict} it. Each transaction signs "
            "one Ed25519 tree head; the verifier recomputed every hash and checked every "
            f"signature: {'intact' if report.intact else 'NOT intact'} "
            f"({report.tree_heads:,} tree heads, final size {tree_size:,}).",
        ],
    )
