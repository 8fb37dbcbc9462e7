"""Liveness and readiness: ``/healthz`` (the process answers) and ``/readyz`` (it can work)."""

from __future__ import annotations

import time
from collections.abc import Awaitable
from typing import Literal, Protocol

import anyio
from fastapi import APIRouter, Request
from pydantic import BaseModel, Field
from sqlalchemy import text
from starlette.responses import Response

from joinedup.core.db import Database
from joinedup.core.logging import get_logger
from joinedup.web.problems import Problem, problem_response

#: How long one dependency may take to answer before it counts as down.
CHECK_TIMEOUT_S = 3.0

router = APIRouter(tags=["operations"])
log = get_logger(__name__)


class HealthReporting(Protocol):
    async def healthy(self) -> bool: ...


class Health(BaseModel):
    status: Literal["ok"] = "ok"


class Check(BaseModel):
    status: Literal["up", "down"]
    duration_ms: float
    error: str | None = Field(None, description="Why it is down (the kind of error only).")


class Readiness(BaseModel):
    status: Literal["ready"] = "ready"
    checks: dict[str, Check]


@router.get("/healthz", summary="The process is alive", response_model=Health)
async def healthz() -> Health:
    """Answers as long as the process serves requests; checks no dependency."""
    return Health()


def _select_one(database: Database) -> None:
    with database.engine.connect() as connection:
        connection.execute(text("SELECT 1"))


async def _check_database(database: Database) -> None:
    await anyio.to_thread.run_sync(_select_one, database, abandon_on_cancel=True)


async def _check_bus(bus: HealthReporting) -> None:
    if not await bus.healthy():
        raise ConnectionError("the bus reports it is not connected")


async def _timed(name: str, check: Awaitable[None]) -> Check:
    started = time.perf_counter()
    error: str | None = None
    try:
        with anyio.fail_after(CHECK_TIMEOUT_S):
            await check
    except TimeoutError:
        error = f"no answer within {CHECK_TIMEOUT_S:g} s"
    except Exception as exc:
        error = type(exc).__name__
        log.warning("readiness check failed", check=name, error=str(exc))
    duration = round((time.perf_counter() - started) * 1000, 2)
    return Check(status="down" if error else "up", duration_ms=duration, error=error)


@router.get(
    "/readyz",
    summary="The process can serve: database and bus reachable",
    response_model=Readiness,
    responses={503: {"model": Problem, "description": "A dependency is down."}},
)
async def readyz(request: Request) -> Readiness | Response:
    """``SELECT 1`` on the database and the bus's own health; 503 naming what is down."""
    checks = {
        "database": await _timed("database", _check_database(request.app.state.database)),
        "bus": await _timed("bus", _check_bus(request.app.state.bus)),
    }
    down = [name for name, check in checks.items() if check.status == "down"]
    if not down:
        return Readiness(checks=checks)
    return problem_response(
        request.scope,
        status=503,
        slug="not-ready",
        title="Not ready",
        detail="Not ready: " + ", ".join(down) + (" is" if len(down) == 1 else " are") + " down.",
        extensions={"checks": {name: check.model_dump() for name, check in checks.items()}},
    )
