"""The application factory: one FastAPI application serving the API, the portal and the
back office of one stateless web process.

At start-up (the lifespan) it opens the database and connects the event bus, and with
``with_workers`` also runs the relay and the consumers in this process (the embedded shape).
Every context's API router comes from the composition root (``joinedup.platform``).
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager, AsyncExitStack, asynccontextmanager

import httpx
from fastapi import FastAPI
from starlette.staticfiles import StaticFiles

from joinedup import __version__, platform
from joinedup.core.collection import settle_for_serving
from joinedup.core.db import Database
from joinedup.core.logging import configure_logging, get_logger, is_configured
from joinedup.core.settings import Settings, get_settings
from joinedup.core.sqlite import set_writer_priority
from joinedup.web import backoffice, entitlements, health, idp, pages, portal, tell_us_once
from joinedup.web.assets import STATIC_DIR, FrontendAssets, govuk_frontend_dir
from joinedup.web.auth import install_auth_handlers
from joinedup.web.deps import check_session_scopes
from joinedup.web.middleware import (
    ADMITTED_PREFIXES,
    AdmissionMiddleware,
    RequestContextMiddleware,
    SecurityHeadersMiddleware,
)
from joinedup.web.openapi import install_openapi
from joinedup.web.problems import install_problem_handlers
from joinedup.web.routing import index_routes
from joinedup.web.templating import compile_templates

log = get_logger(__name__)

DESCRIPTION = """\
The API of joinedup: base registries, the mediated data exchange, rules as code and the
services built on them. Every error is an RFC 9457 problem document
(`application/problem+json`) whose `type` is stable; every response carries `X-Request-Id`.
"""

OPENAPI_TAGS = [
    {"name": "operations", "description": "Liveness and readiness of this process."},
    {
        "name": "Tell Us Once",
        "description": "For the Central Digital Office's staff: agencies informed of deaths, "
        "the dead-letter list and replays.",
    },
]


def _lifespan(
    settings: Settings,
    *,
    with_workers: bool,
    database: Database | None,
    own_http: bool,
    serving: bool,
) -> Callable[[FastAPI], AbstractAsyncContextManager[None]]:
    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        from joinedup.core.bus import create_bus

        check_session_scopes(app)  # again: routes may have been added after create_app
        async with AsyncExitStack() as stack:
            if database is None:
                db = Database(settings.resolved_database_url, pool_size=settings.database_pool_size)
                stack.callback(db.dispose)
            else:
                db = database  # the caller's: the caller disposes of it
            bus = create_bus(settings, db)
            await bus.connect()
            stack.push_async_callback(bus.close)
            # a server process checkpoints its SQLite log in the background (tests' apps not)
            checkpointer = db.checkpoint_in_background() if serving else None
            if checkpointer is not None:  # stopped without holding up the event loop
                stack.push_async_callback(asyncio.to_thread, checkpointer.stop)
            app.state.database = db
            app.state.bus = bus
            compile_templates()  # not by the first requests of every page at once
            if own_http:  # the relying party's client of the OpenID Connect provider
                stack.callback(app.state.oidc_http.close)
            if with_workers:
                from joinedup.core.worker import EmbeddedWorkers

                platform.handler_modules()  # registers every context's consumers
                workers = EmbeddedWorkers(settings, db, bus=bus)  # one bus per process
                await workers.start()
                stack.push_async_callback(workers.stop)
            if serving:
                settle_for_serving()
            log.info(
                "web application started",
                database=db.dialect,
                bus=settings.bus_url.split("://", 1)[0],
                workers=with_workers,
            )
            yield
            log.info("web application stopping")

    return lifespan


def create_serving_app() -> FastAPI:
    """The application a server process runs (the factory :mod:`joinedup.web.processes`
    names): :func:`create_app` with ``serving``."""
    return create_app(serving=True)


def create_app(
    settings: Settings | None = None,
    *,
    with_workers: bool = False,
    database: Database | None = None,
    oidc_http: httpx.Client | None = None,
    serving: bool = False,
) -> FastAPI:
    """The web application. ``database`` lets a caller (a test) hand in one it owns;
    by default the application opens ``settings.resolved_database_url`` itself.
    ``oidc_http`` carries the relying party's requests to the OpenID Connect provider
    (default: a new HTTP client; tests may hand in one that reaches the app in-process).
    ``serving``: the application is the process's server (``joinedup serve``, each of
    :mod:`joinedup.web.processes`): it checkpoints a SQLite log in the background
    (:class:`~joinedup.core.sqlite.WalCheckpointer`) and, once started, settles the garbage
    collector (:func:`~joinedup.core.collection.settle_for_serving`)."""
    settings = settings or get_settings()
    if not is_configured():
        configure_logging(settings)
    set_writer_priority(settings.sqlite_writer_priority)
    frontend = govuk_frontend_dir()  # fails now, naming the fix, rather than on the first page

    app = FastAPI(
        title="joinedup",
        version=__version__,
        summary="Connected, whole-of-government public service delivery.",
        description=DESCRIPTION,
        openapi_url="/openapi.json",
        openapi_tags=OPENAPI_TAGS,
        docs_url=None,  # /api/docs is rendered by pages.py: Swagger UI needs inline script
        redoc_url=None,
        swagger_ui_oauth2_redirect_url=None,
        lifespan=_lifespan(
            settings,
            with_workers=with_workers,
            database=database,
            own_http=oidc_http is None,
            serving=serving,
        ),
    )
    app.state.settings = settings
    app.state.oidc_http = oidc_http or httpx.Client(timeout=10.0, follow_redirects=False)
    install_problem_handlers(app)
    install_auth_handlers(app)
    install_openapi(app)

    app.include_router(health.router)
    api_modules = platform.api_modules()
    for module in api_modules:
        app.include_router(module.router)
    app.include_router(entitlements.router)
    app.include_router(pages.router)
    app.include_router(idp.router)
    for portal_router in portal.routers:
        app.include_router(portal_router)
    app.include_router(backoffice.back_office)
    app.include_router(tell_us_once.router)
    app.mount("/assets", FrontendAssets(frontend), name="assets")
    app.mount("/static", StaticFiles(directory=STATIC_DIR), name="static")
    index_routes(app)  # a request tries the routes of its first path segment only

    # Added last is outermost: the security headers wrap everything, even the 500 answer.
    # A context's own ASGI paths for hot endpoints (``fast_paths``: the exchange's /r1 calls)
    # are added first, so they sit inside these middlewares and in front of the router.
    for module in api_modules:
        for fast_path in getattr(module, "fast_paths", ()):
            app.add_middleware(fast_path)
    # inside the request context (a page waiting its turn is in the access log's duration)
    app.add_middleware(
        AdmissionMiddleware,
        limit=settings.page_concurrency,
        prefixes=ADMITTED_PREFIXES,
        wait=settings.page_wait_seconds,
    )
    app.add_middleware(
        RequestContextMiddleware,
        default_locale=settings.default_locale,
        secure_cookies=settings.is_production,
    )
    app.add_middleware(SecurityHeadersMiddleware, hsts=settings.is_production)

    check_session_scopes(app)
    return app
