"""The factory fails at once, naming the fix, when something it needs is missing."""

from __future__ import annotations

import dataclasses
import time
from pathlib import Path
from typing import ClassVar, NoReturn

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from joinedup.core.db import Database
from joinedup.core.events import Event, emit
from joinedup.core.outbox import OutboxEvent
from joinedup.core.settings import Settings
from joinedup.web import assets, create_app, templating


def test_missing_govuk_frontend_names_the_setup_script(
    settings: Settings, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(assets, "_REPOSITORY", tmp_path)
    monkeypatch.chdir(tmp_path)
    with pytest.raises(assets.FrontendMissing, match=r"run scripts/setup\.sh"):
        create_app(settings)


def test_the_frontend_is_found_from_any_working_directory(
    settings: Settings, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    assert (assets.govuk_frontend_dir() / "govuk-frontend.min.css").is_file()
    create_app(settings)


def test_the_embedded_shape_runs_the_workers_in_the_web_process(
    settings: Settings, sqlite_database: Database
) -> None:
    app = create_app(settings, with_workers=True, database=sqlite_database)
    with TestClient(app) as client:
        assert client.get("/readyz").status_code == 200
        with sqlite_database.unit_of_work() as session:
            event_id = emit(session, _Pinged())
        # The relay, running inside the web process, publishes the committed event.
        deadline = time.monotonic() + 10
        published = None
        while published is None and time.monotonic() < deadline:
            time.sleep(0.05)
            with sqlite_database.reading() as session:
                published = session.scalar(
                    select(OutboxEvent.published_at).where(OutboxEvent.event_id == event_id)
                )
        assert published is not None


@dataclasses.dataclass(frozen=True, kw_only=True)
class _Pinged(Event):
    name: ClassVar[str] = "test.pinged.v1"


def test_every_page_template_is_compiled_before_the_first_request(
    settings: Settings, sqlite_database: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Under load, the first requests of every page would otherwise compile it at once in
    every thread of the pool; with the templates compiled at start-up, no request reads one."""
    env = templating.templates.env
    env.cache.clear()  # type: ignore[union-attr]
    names = env.list_templates(extensions=["html"])
    assert len(names) > 20
    app = create_app(settings, database=sqlite_database)
    with TestClient(app):
        loader = env.loader
        assert loader is not None

        def unread(*args: object) -> NoReturn:
            raise AssertionError("a template was read after start-up")

        monkeypatch.setattr(loader, "get_source", unread)
        for name in names:
            env.get_template(name)
