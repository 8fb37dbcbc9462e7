"""Process commands: demo, serve, worker, migrate, seed."""

from __future__ import annotations

import asyncio
import time

import typer
import uvicorn
from rich.console import Console

from joinedup.core.db import Database
from joinedup.core.logging import configure_logging
from joinedup.core.settings import Settings, get_settings

console = Console(stderr=True)

HOST = typer.Option(None, "--host", help="Address to bind (default: JOINEDUP_HOST).")
PORT = typer.Option(None, "--port", help="Port to bind (default: JOINEDUP_PORT).")


def _settings() -> Settings:
    try:
        return get_settings()
    except ValueError as exc:  # pydantic's ValidationError is a ValueError
        console.print(f"[red]Configuration error:[/red] {exc}")
        raise typer.Exit(2) from exc


def _migrate(settings: Settings) -> None:
    from joinedup.migrations import upgrade

    upgrade(settings.resolved_database_url)


def _seed(settings: Settings, persons: int, seed: int, *, only_if_empty: bool) -> None:
    from joinedup.demo import is_seeded, seed_country, update_demo_exchange

    database = Database(settings.resolved_database_url, pool_size=settings.database_pool_size)
    try:
        if only_if_empty and is_seeded(database):
            with database.unit_of_work() as session:  # what this version added since
                update_demo_exchange(session)
            console.print("Synthetic country already seeded: reusing it.")
            return
        start = time.perf_counter()
        summary = seed_country(database, persons=persons, seed=seed, progress=True)
        console.print(
            f"Seeded {summary.persons:,} persons in {time.perf_counter() - start:.1f} s "
            f"({summary.describe()})."
        )
    finally:
        database.dispose()


def _run_web(settings: Settings, host: str | None, port: int | None, *, with_workers: bool) -> None:
    from joinedup.core.scheduling import apply_cpu_scheduling
    from joinedup.web import create_app

    apply_cpu_scheduling(settings.cpu_scheduling)  # before the application starts its threads
    app = create_app(settings, with_workers=with_workers, serving=True)
    uvicorn.run(
        app,
        host=host or settings.host,
        port=port or settings.port,
        log_config=None,  # structlog owns logging
        access_log=False,
        proxy_headers=True,
        forwarded_allow_ips=settings.forwarded_allow_ips,
    )


def _names(given: list[str] | None) -> list[str] | None:
    """Consumer names given as repeated options, each maybe a comma-separated list."""
    if given is None:
        return None
    return [name.strip() for item in given for name in item.split(",") if name.strip()]


def demo_settings(settings: Settings, host: str | None, port: int | None) -> Settings:
    """The embedded platform is reached where it binds: with ``--host``/``--port`` and no
    ``JOINEDUP_PUBLIC_URL`` of its own, the public address (the embedded sign-in provider's
    issuer, links in letters) follows the address given, or signing in would call the wrong port."""
    if "public_url" in settings.model_fields_set or (host is None and port is None):
        return settings
    shown = f"http://{host or settings.host}:{port or settings.port}"
    return settings.model_copy(update={"public_url": shown})


def register(app: typer.Typer) -> None:
    @app.command()
    def demo(host: str | None = HOST, port: int | None = PORT) -> None:
        """Run the embedded platform: migrate, seed the country once, serve with workers."""
        settings = demo_settings(_settings(), host, port)
        configure_logging(settings)
        _migrate(settings)
        _seed(settings, settings.demo_persons, settings.demo_seed, only_if_empty=True)
        shown = f"http://{host or settings.host}:{port or settings.port}"
        console.print(f"joinedup is running at [bold]{shown}[/bold] (Ctrl+C stops it).")
        _run_web(settings, host, port, with_workers=True)

    @app.command()
    def serve(
        host: str | None = HOST,
        port: int | None = PORT,
        with_workers: bool = typer.Option(
            False, help="Also run the relay and consumers in this process (embedded shape)."
        ),
    ) -> None:
        """Run one stateless web process (API, portal, back office)."""
        settings = _settings()
        configure_logging(settings)
        _run_web(settings, host, port, with_workers=with_workers)

    @app.command()
    def worker(
        only: list[str] | None = typer.Option(
            None,
            "--only",
            help="Run only these consumers (repeat, or separate by commas), and nothing else: "
            "no relay, loops or daily jobs. A process of its own for a busy consumer.",
        ),
        without: list[str] | None = typer.Option(
            None,
            "--without",
            help="Run the relay, the loops, the daily jobs and every consumer but these "
            "(repeat, or separate by commas): they run in a process started with --only.",
        ),
    ) -> None:
        """Run the outbox relay and every event consumer until interrupted.

        Several worker processes may share the work: ``--only NAME`` in one and ``--without
        NAME`` in another gives a busy consumer a process (and a core) of its own."""
        from joinedup.core.consumers import registry
        from joinedup.core.worker import WorkerShare, run_worker
        from joinedup.platform import handler_modules

        handler_modules()  # registers every context's consumers
        settings = _settings()
        configure_logging(settings)
        try:
            share = WorkerShare.of(
                [c.name for c in registry], only=_names(only), without=_names(without)
            )
        except ValueError as exc:
            console.print(f"[red]Error:[/red] {exc}")
            raise typer.Exit(2) from exc
        from joinedup.core.collection import settle_for_serving

        settle_for_serving()  # what start-up built, out of the collector's sight
        asyncio.run(run_worker(settings, share=share))

    @app.command()
    def migrate() -> None:
        """Bring the database schema up to date (Alembic upgrade head)."""
        settings = _settings()
        configure_logging(settings)
        _migrate(settings)
        console.print("Database schema is up to date.")

    @app.command()
    def seed(
        persons: int = typer.Option(20_000, "--persons", min=100, help="Persons to create."),
        seed: int | None = typer.Option(None, "--seed", help="Seed (default: JOINEDUP_DEMO_SEED)."),
        force: bool = typer.Option(
            False, "--force", help="Seed even if a country is already there (adds more persons)."
        ),
    ) -> None:
        """Load a deterministic synthetic country through the registries' use cases."""
        settings = _settings()
        configure_logging(settings)
        _migrate(settings)
        _seed(
            settings, persons, settings.demo_seed if seed is None else seed, only_if_empty=not force
        )
