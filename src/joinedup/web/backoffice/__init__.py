"""The back office: where staff of agencies at every level work on joined-up cases."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse

from joinedup.web.templating import render

router = APIRouter(
    prefix="/backoffice", include_in_schema=False, default_response_class=HTMLResponse
)


@router.get("")
async def start(request: Request) -> HTMLResponse:
    return render(request, "backoffice/start.html")
