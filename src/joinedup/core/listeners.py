"""Callbacks by topic, added and removed from any thread: what a commit (``core.events``) or
another process (``core.wakeups``) tells of, and who waits for it."""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Callable, Hashable, Iterable
from typing import Generic, TypeVar

import structlog

log = structlog.get_logger(__name__)

T = TypeVar("T", bound=Hashable)


class Listeners(Generic[T]):
    """The listeners of each topic; :meth:`call` runs those of some topics, each once, and
    logs ``failure`` for one that raises (the others are still called)."""

    def __init__(self, failure: str) -> None:
        self.failure = failure
        self._by_topic: dict[T, list[Callable[[], None]]] = {}
        self._lock = threading.Lock()

    def add(self, topic: T, listener: Callable[[], None]) -> Callable[[], None]:
        """Add ``listener`` to ``topic``; returns the function that removes it."""
        with self._lock:
            self._by_topic.setdefault(topic, []).append(listener)

        def remove() -> None:
            with self._lock, contextlib.suppress(ValueError):
                self._by_topic.get(topic, []).remove(listener)

        return remove

    def call(self, topics: Iterable[T]) -> None:
        with self._lock:
            chosen = [listener for topic in topics for listener in self._by_topic.get(topic, ())]
        for listener in chosen:
            try:
                listener()
            except Exception:  # one listener's failure must not stop the others (or the caller)
                log.warning(self.failure, exc_info=True)


__all__ = ["Listeners"]
