"""Identifiers drawn in batches are still random version 4 UUIDs, never repeated — across
threads and in a forked child."""

from __future__ import annotations

import os
import threading
import uuid

import pytest

from joinedup.core.ids import new_id, new_salt


def test_ids_are_version_4_and_distinct_across_threads() -> None:
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
    assert {i.version for i in drawn} == {4}
    assert {i.variant for i in drawn} == {uuid.RFC_4122}


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
