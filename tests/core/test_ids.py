"""Identifiers drawn in batches are time-ordered random version 7 UUIDs, never repeated —
across threads and in a forked child."""

from __future__ import annotations

import os
import threading
import time
import uuid

import pytest

from joinedup.core.ids import new_id, new_salt


def test_ids_are_version_7_and_distinct_across_threads() -> None:
    drawn: list[uuid.UUID] = []
    lock = threading.Lock()

    def draw() -> None:
        mine = [new_id() for _ in range(1000)]
        with lock:
            drawn.extend(mine)

    threads = [threading.Thread(target=draw) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(set(drawn)) == len(drawn) == 4000
    assert {i.version for i in drawn} == {7}
    assert {i.variant for i in drawn} == {uuid.RFC_4122}
    # each is what uuid.UUID makes of its own text (a complete, ordinary UUID)
    assert all(uuid.UUID(str(i)) == i and hash(uuid.UUID(str(i))) == hash(i) for i in drawn)


def test_ids_begin_with_the_time_and_end_random() -> None:
    before = time.time_ns() // 1_000_000
    drawn = [new_id() for _ in range(2000)]
    after = time.time_ns() // 1_000_000
    assert all(before <= i.int >> 80 <= after for i in drawn)  # unix milliseconds
    # drawn later sorts later (to the millisecond): an index grows at its right-hand edge
    time.sleep(0.002)
    later = new_id()
    assert all(i < later for i in drawn)
    # the 74 bits after the time are random: every bit position takes both values
    random_bits = [(i.int >> 64) & 0xFFF | (i.int & ((1 << 62) - 1)) << 12 for i in drawn]
    for bit in range(74):
        assert {(value >> bit) & 1 for value in random_bits} == {0, 1}, bit


@pytest.mark.skipif(not hasattr(os, "fork"), reason="fork is POSIX only")
def test_a_forked_child_never_hands_out_its_parents_ids() -> None:
    new_id()  # the parent now holds drawn identifiers
    read, write = os.pipe()
    child = os.fork()
    if child == 0:  # pragma: no cover - runs in the child
        os.close(read)
        os.write(write, b"".join(new_id().bytes for _ in range(100)))
        os._exit(0)
    os.close(write)
    with os.fdopen(read, "rb") as pipe:
        raw = pipe.read()
    os.waitpid(child, 0)
    theirs = {raw[i : i + 16] for i in range(0, len(raw), 16)}
    ours = {new_id().bytes for _ in range(100)}
    assert len(theirs) == 100
    assert not theirs & ours


def test_salts_are_sixteen_fresh_bytes() -> None:
    salts = [new_salt() for _ in range(600)]  # more than one pool
    assert {len(s) for s in salts} == {16}
    assert len(set(salts)) == 600
