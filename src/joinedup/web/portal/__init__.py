"""The citizen portal: one front door for every service of every agency and level."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse

from joinedup.web.templating import render

router = APIRouter(prefix="/portal", include_in_schema=False, default_response_class=HTMLResponse)


@router.get("")
async def start(request: Request) -> HTMLResponse:
    return render(request, "portal/start.html")
