"""Pages in a real browser: zero WCAG 2.2 AA violations (axe-core), no CSP violation.

Runs axe-core from ``node_modules`` in Debian's chromium (``scripts/setup.sh`` installs it),
driven by Playwright against the application served by uvicorn on a free local port. Without
chromium the tests skip, unless ``CI=true``, where they fail.
"""

from __future__ import annotations

import os
import shutil
import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import uvicorn
from playwright.sync_api import Browser, sync_playwright

from joinedup.core.db import Database
from joinedup.core.settings import Settings
from joinedup.web import create_app

ROOT = Path(__file__).resolve().parents[2]
AXE = ROOT / "node_modules" / "axe-core" / "axe.min.js"
WCAG_22_AA = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa", "wcag22a", "wcag22aa"]
PAGES = ["/", "/portal", "/backoffice", "/api/docs", "/no-such-page"]

pytestmark = [pytest.mark.slow, pytest.mark.timeout(120)]


def _chromium() -> str:
    found = shutil.which("chromium") or shutil.which("chromium-browser")
    if found is None:
        message = "Debian's chromium is not installed (scripts/setup.sh installs it)"
        if os.environ.get("CI", "").lower() in {"1", "true", "yes"}:
            pytest.fail(f"{message}; CI=true requires it", pytrace=False)
        pytest.skip(message)
    return found


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


@pytest.fixture
def base_url(settings: Settings, sqlite_database: Database) -> Iterator[str]:
    """The application served by uvicorn in a thread, as a browser would reach it."""
    port = _free_port()
    config = uvicorn.Config(
        create_app(settings, database=sqlite_database),
        host="127.0.0.1",
        port=port,
        log_config=None,
        access_log=False,
        lifespan="on",
    )
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started:
        if time.monotonic() > deadline or not thread.is_alive():
            raise RuntimeError("uvicorn did not start")
        time.sleep(0.05)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=20)


@pytest.fixture
def browser() -> Iterator[Browser]:
    executable = _chromium()
    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(
            executable_path=executable, headless=True, args=["--no-sandbox"]
        )
        try:
            yield chromium
        finally:
            chromium.close()


@pytest.mark.parametrize("locale", ["en", "et"])
def test_pages_have_no_wcag_22_aa_violations_and_break_no_csp(
    base_url: str, browser: Browser, locale: str
) -> None:
    axe_source = AXE.read_text(encoding="utf-8")
    page = browser.new_page()
    problems: list[str] = []
    page.on(
        "console",
        lambda message: problems.append(message.text) if message.type == "error" else None,
    )
    page.on("pageerror", lambda error: problems.append(str(error)))
    for path in PAGES:
        response = page.goto(f"{base_url}{path}?lang={locale}", wait_until="load")
        assert response is not None
        assert response.status == (404 if path == "/no-such-page" else 200)
        assert page.evaluate("document.documentElement.lang") == locale
        # The GOV.UK Frontend module script ran (it is a file: the CSP allows it).
        page.wait_for_function("document.body.classList.contains('govuk-frontend-supported')")
        page.evaluate(axe_source)
        result: dict[str, Any] = page.evaluate(
            "tags => axe.run(document, {runOnly: {type: 'tag', values: tags}})", WCAG_22_AA
        )
        violations = [
            f"{v['id']} ({v['impact']}): {v['help']} at {[n['target'] for n in v['nodes']]}"
            for v in result["violations"]
        ]
        assert not violations, f"{path}?lang={locale}: {violations}"
        assert result["passes"], "axe ran no check at all"
    # 404 of the missing page is logged by chromium as a failed resource load: expected.
    unexpected = [p for p in problems if "404" not in p]
    assert not unexpected, unexpected
    page.close()
