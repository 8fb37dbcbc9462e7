"""The thread holding a SQLite file's writers' turn runs at a raised scheduling priority while
it holds it (setting ``sqlite_writer_priority``), and has its niceness back once the turn is
given back, whichever thread gives it back; where raising is refused, the turns work the
same and the refusal is said once. Each test takes its turns in threads of its own, so the
test process's threads keep their niceness."""

from __future__ import annotations

import os
import threading
from collections.abc import Callable
from pathlib import Path

import pytest
from pydantic import ValidationError
from structlog.testing import capture_logs

from joinedup.core import scheduling
from joinedup.core import sqlite as sqlite_module
from joinedup.core.db import Database
from joinedup.core.scheduling import PriorityBoost
from joinedup.core.settings import Settings


def _may_raise() -> bool:
    """Whether this process may raise a thread's priority (root, ``CAP_SYS_NICE`` or a
    ``RLIMIT_NICE`` that allows it), tried on a thread of its own."""
    if not scheduling.THREAD_NICENESS:
        return False
    found: list[bool] = []

    def probe() -> None:
        me = threading.get_native_id()
        before = os.getpriority(os.PRIO_PROCESS, me)
        try:
            os.setpriority(os.PRIO_PROCESS, me, before - 1)
        except OSError:
            found.append(False)
            return
        os.setpriority(os.PRIO_PROCESS, me, before)
        found.append(before > -20)

    thread = threading.Thread(target=probe)
    thread.start()
    thread.join(5)
    return found == [True]


may_raise = pytest.mark.skipif(
    not _may_raise(), reason="raising a thread's priority needs CAP_SYS_NICE on Linux"
)


@pytest.fixture
def boost(monkeypatch: pytest.MonkeyPatch) -> Callable[[int], None]:
    """Set the process's boost for one test (the module's default is put back after)."""
    monkeypatch.setattr(sqlite_module, "_priority", sqlite_module._priority)
    return sqlite_module.set_writer_priority


@pytest.fixture
def turns(tmp_path: Path) -> sqlite_module.WriterTurns:
    return sqlite_module.WriterTurns(str(tmp_path / "a.db.writers-lock"))


def _niceness(thread_id: int) -> int:
    return os.getpriority(os.PRIO_PROCESS, thread_id)


def _take(turns: sqlite_module.WriterTurns, seen: dict[str, int]) -> int:
    """Take the turn in the calling thread, noting its niceness before and while holding;
    returns the thread's id."""
    me = threading.get_native_id()
    seen["before"] = _niceness(me)
    assert turns.acquire(5)
    seen["holding"] = _niceness(me)
    return me


def _take_and_give_back(turns: sqlite_module.WriterTurns) -> None:
    assert turns.acquire(5)
    turns.release()


def _in_thread(work: Callable[[], object]) -> None:
    errors: list[BaseException] = []

    def run() -> None:
        try:
            work()
        except BaseException as error:  # (re-raised in the test's thread)
            errors.append(error)

    thread = threading.Thread(target=run)
    thread.start()
    thread.join(10)
    assert not thread.is_alive()
    if errors:
        raise errors[0]


@may_raise
def test_the_holder_runs_raised_while_it_holds_the_turn(
    turns: sqlite_module.WriterTurns, boost: Callable[[int], None]
) -> None:
    boost(10)
    seen: dict[str, int] = {}

    def work() -> None:
        me = _take(turns, seen)
        assert turns.acquire(5)  # taken again (nested): raised once, not twice
        seen["nested"] = _niceness(me)
        turns.release()
        seen["still holding"] = _niceness(me)
        turns.release()
        seen["after"] = _niceness(me)

    _in_thread(work)
    before = seen["before"]
    assert seen == {
        "before": before,
        "holding": max(-20, before - 10),
        "nested": max(-20, before - 10),
        "still holding": max(-20, before - 10),
        "after": before,
    }


@may_raise
@pytest.mark.parametrize("order", ["first taken first", "last taken first"])
def test_a_thread_holding_two_files_turns_is_raised_until_it_gives_both_back(
    tmp_path: Path, boost: Callable[[int], None], order: str
) -> None:
    """Two SQLite files' turns held by one thread, given back in either order: raised once,
    still raised while it holds either, its own niceness back with the last."""
    boost(10)
    first = sqlite_module.WriterTurns(str(tmp_path / "a.db.writers-lock"))
    second = sqlite_module.WriterTurns(str(tmp_path / "b.db.writers-lock"))
    seen: dict[str, int] = {}

    def work() -> None:
        me = _take(first, seen)
        assert second.acquire(5)
        seen["both"] = _niceness(me)
        one, other = (first, second) if order == "first taken first" else (second, first)
        one.release()
        seen["one given back"] = _niceness(me)
        other.release()
        seen["after"] = _niceness(me)

    _in_thread(work)
    before = seen["before"]
    raised = max(-20, before - 10)
    assert seen == {
        "before": before,
        "holding": raised,
        "both": raised,
        "one given back": raised,
        "after": before,
    }


@may_raise
def test_a_turn_given_back_by_another_thread_gives_the_holder_its_niceness_back(
    turns: sqlite_module.WriterTurns, boost: Callable[[int], None]
) -> None:
    """A request's unit of work may end in another thread than it began in."""
    boost(5)
    holding, given_back = threading.Event(), threading.Event()
    seen: dict[str, int] = {}

    def holder() -> None:
        me = _take(turns, seen)
        holding.set()
        assert given_back.wait(10)
        seen["after"] = _niceness(me)

    thread = threading.Thread(target=holder)
    thread.start()
    assert holding.wait(10)
    _in_thread(turns.release)
    given_back.set()
    thread.join(10)
    assert seen["holding"] == max(-20, seen["before"] - 5)
    assert seen["after"] == seen["before"]


def test_a_refused_raise_is_said_once_and_the_turns_work_without_it(
    turns: sqlite_module.WriterTurns, boost: Callable[[int], None], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(scheduling, "THREAD_NICENESS", True)  # (as on Linux, whatever this is)
    boost(10)
    calls: list[int] = []

    def refused(_which: int, thread_id: int, _niceness: int) -> None:
        calls.append(thread_id)
        raise PermissionError("not allowed")

    monkeypatch.setattr(os, "setpriority", refused, raising=False)
    monkeypatch.setattr(os, "getpriority", lambda *_: 0, raising=False)
    with capture_logs() as logs:
        for _ in range(3):
            _in_thread(lambda: _take_and_give_back(turns))
    assert len(calls) == 1  # tried once, then no more
    assert [(e["event"], e["reason"]) for e in logs] == [
        ("thread_priority_not_raised", "PermissionError")
    ]
    assert turns.acquire(0)  # the turns still work
    turns.release()


def test_no_boost_touches_no_thread(
    turns: sqlite_module.WriterTurns, boost: Callable[[int], None], monkeypatch: pytest.MonkeyPatch
) -> None:
    boost(0)

    def never(*_: object) -> None:
        raise AssertionError("no thread's priority is changed")

    monkeypatch.setattr(os, "setpriority", never, raising=False)
    monkeypatch.setattr(os, "getpriority", never, raising=False)
    _in_thread(lambda: _take_and_give_back(turns))
    assert PriorityBoost(0).raise_for(threading.get_native_id()) is None


def test_a_thread_already_at_the_highest_priority_is_left_as_it_is(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(scheduling, "THREAD_NICENESS", True)

    def never(*_: object) -> None:
        raise AssertionError("nothing to raise")

    monkeypatch.setattr(os, "getpriority", lambda *_: -20, raising=False)
    monkeypatch.setattr(os, "setpriority", never, raising=False)
    assert PriorityBoost(10).raise_for(1234) is None


def test_the_setting_is_10_by_default_and_refuses_what_is_no_boost() -> None:
    assert Settings().sqlite_writer_priority == 10
    assert Settings(sqlite_writer_priority=0).sqlite_writer_priority == 0
    for wrong in (-1, 40, "fast"):
        with pytest.raises(ValidationError, match="sqlite_writer_priority"):
            Settings(sqlite_writer_priority=wrong)
    for wrong_boost in (-1, 40):
        with pytest.raises(ValueError, match="0 to 39"):
            PriorityBoost(wrong_boost)


def test_the_web_application_takes_the_setting(
    boost: Callable[[int], None], settings: Settings, sqlite_database: Database
) -> None:
    from joinedup.web.app import create_app

    boost(10)
    create_app(settings.model_copy(update={"sqlite_writer_priority": 3}), database=sqlite_database)
    assert sqlite_module._priority.boost == 3
