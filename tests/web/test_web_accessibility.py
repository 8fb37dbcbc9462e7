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
from identity_support import demo_code
from playwright.sync_api import Browser, Page, sync_playwright

from joinedup.core.db import Database
from joinedup.core.settings import Settings
from joinedup.identity import forget_provider_metadata, staff_roles_of
from joinedup.identity.provider import provider_accounts
from joinedup.identity.provider.demo import demo_credentials
from joinedup.identity.service.credentials import totp
from joinedup.web import create_app

ROOT = Path(__file__).resolve().parents[2]
AXE = ROOT / "node_modules" / "axe-core" / "axe.min.js"
WCAG_22_AA = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa", "wcag22a", "wcag22aa"]
PAGES = [
    "/",
    "/portal",
    "/backoffice",
    "/api/docs",
    "/portal/signed-out",
    "/idp/end-session",
    "/idp/authorize?client_id=nobody",
    "/no-such-page",
]
#: Pages of a signed-in person (a staff administrator who has given a power of attorney).
SIGNED_IN_PAGES = [
    "/portal",
    "/portal/acting-for",
    "/portal/powers-of-attorney",
    "/portal/powers-of-attorney/new",
    "/backoffice",
]
STATUS = {"/no-such-page": 404, "/idp/authorize?client_id=nobody": 400}

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


def _follow(page: Page, selector: str) -> None:
    """Click what ``selector`` finds and wait until the page it leads to has loaded (a click
    returns once the navigation has begun: reading the page then may find no document)."""
    with page.expect_navigation(wait_until="load"):
        page.click(selector)


def _check(page: Page, axe_source: str, url: str, locale: str, status: int | None = 200) -> None:
    """Open ``url`` (or, with ``status`` None, the page already open) in ``locale`` and run
    axe-core over it."""
    if status is not None:
        separator = "&" if "?" in url else "?"
        response = page.goto(f"{url}{separator}lang={locale}", wait_until="load")
        assert response is not None
        assert response.status == status, url
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
    assert not violations, f"{page.url}: {violations}"
    assert result["passes"], "axe ran no check at all"


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
        _check(page, axe_source, f"{base_url}{path}", locale, STATUS.get(path, 200))
    # The 404 and 400 pages are logged by chromium as failed resource loads: expected.
    unexpected = [p for p in problems if "404" not in p and "status of 400" not in p]
    assert not unexpected, unexpected
    page.close()


@pytest.fixture
def seeded_base_url(settings: Settings, seeded: Database) -> Iterator[str]:
    """The application on the seeded country, its relying party pointed at its own embedded
    provider over HTTP (as it runs in the demo)."""
    port = _free_port()
    public = f"http://127.0.0.1:{port}"
    forget_provider_metadata()
    app = create_app(settings.model_copy(update={"public_url": public}), database=seeded)
    config = uvicorn.Config(
        app, host="127.0.0.1", port=port, log_config=None, access_log=False, lifespan="on"
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
        yield public
    finally:
        server.should_exit = True
        thread.join(timeout=20)
        forget_provider_metadata()


def _staff_administrator(database: Database) -> tuple[str, str]:
    """The personal code and given names of a demo staff administrator."""
    with database.reading() as session:
        for account in provider_accounts(session):
            roles = staff_roles_of(session, personal_code=account.personal_code)
            if any(str(role.role) == "administrator" for role in roles):
                return account.personal_code, account.given_names
    raise AssertionError("the demo has no staff administrator")


def sign_in_in_browser(
    page: Page, base: str, database: Database, seed: int, check: Any = None
) -> None:
    """Sign in through the real flow, at the substantial level, as the browser would;
    ``check(page)`` runs on the one-time-code page on the way."""
    code, given_names = _staff_administrator(database)
    credentials = demo_credentials(seed, personal_code=code, given_names=given_names)
    page.goto(f"{base}/portal/sign-in?level=substantial&return_to=/portal", wait_until="load")
    page.fill("#username", credentials.username)
    page.fill("#password", credentials.password)
    page.click("button[type=submit] >> nth=0")
    page.wait_for_url("**/idp/sign-in?request=*")
    if check is not None:
        check(page)
    page.fill("#code", _code_on(page, credentials.otp_secret))
    page.click("button[type=submit]")
    page.wait_for_url(f"{base}/portal")


def _code_on(page: Page, secret: str) -> str:
    """The one-time code to type: the one the demo's code page shows (a code is accepted
    once, so a second sign-in within its 30 seconds is shown the next step's), else the
    authenticator's."""
    return demo_code(page.content()) or totp(secret)


@pytest.mark.parametrize("locale", ["en", "et"])
def test_signed_in_pages_have_no_wcag_22_aa_violations(
    seeded_base_url: str, browser: Browser, seeded: Database, seeded_seed: int, locale: str
) -> None:
    base = seeded_base_url
    axe_source = AXE.read_text(encoding="utf-8")
    page = browser.new_page()
    problems: list[str] = []
    page.on(
        "console",
        lambda message: problems.append(message.text) if message.type == "error" else None,
    )
    page.on("pageerror", lambda error: problems.append(str(error)))
    # the provider's sign-in pages, on the way in
    page.goto(f"{base}/portal/sign-in?level=substantial&lang={locale}", wait_until="load")
    _check(page, axe_source, page.url, locale, None)
    sign_in_in_browser(
        page, base, seeded, seeded_seed, check=lambda p: _check(p, axe_source, p.url, locale, None)
    )
    for path in SIGNED_IN_PAGES:
        _check(page, axe_source, f"{base}{path}", locale)
    # the staff member's organisation page
    page.goto(f"{base}/backoffice?lang={locale}", wait_until="load")
    _follow(page, "main a.govuk-link >> nth=0")
    _check(page, axe_source, page.url, locale, None)
    # give a power of attorney: the form with its errors, the check page, the confirmation
    page.goto(f"{base}/portal/powers-of-attorney/new?lang={locale}", wait_until="load")
    _follow(page, "main button[type=submit]")
    _check(page, axe_source, page.url, locale, None)  # the form, every field in error
    with seeded.reading() as session:
        grantee = next(
            a.personal_code for a in provider_accounts(session) if "young-adult" in a.tags
        )
    page.fill("#grantee-code", grantee)
    page.check("#scope-everything")
    _follow(page, "main button[type=submit]")
    _check(page, axe_source, page.url, locale, None)  # check your answers
    page.click("main button[type=submit]")
    page.wait_for_url("**/portal/powers-of-attorney/*?granted=1")
    _check(page, axe_source, page.url, locale, None)  # confirmation
    page.goto(page.url.split("?")[0] + f"/revoke?lang={locale}", wait_until="load")
    _check(page, axe_source, page.url, locale, None)
    # the form in error answered 400: chromium logs it as a failed load, which is expected
    assert [p for p in problems if "status of 400" not in p] == [], problems
    page.close()


# --- the portal's pages and the citizen's journey -------------------------------------------

SCREENSHOTS = ROOT / "build" / "screenshots"


def _shot(page: Page, name: str) -> None:
    """A full-page screenshot at a stable path (build/ is ignored by git)."""
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / f"{name}.png"), full_page=True)


def _account(
    database: Database, tag: str, role: str | None = None, *, female: bool = False
) -> tuple[str, str]:
    """(personal code, given names) of the first demo account with ``tag`` (and, for staff,
    the ``role`` in the Social Insurance Board; ``female``: a woman, who can give birth)."""
    from joinedup.demo.agencies import organisation

    sib = organisation("social-insurance")
    with database.reading() as session:
        for account in provider_accounts(session):
            if tag not in account.tags or (female and int(account.personal_code[0]) % 2):
                continue
            if role is not None:
                roles = staff_roles_of(session, personal_code=account.personal_code)
                if not any((r.member_code, str(r.role)) == (sib.member_code, role) for r in roles):
                    continue
            return account.personal_code, account.given_names
    raise AssertionError(f"the demo has no {tag} account")


def sign_in_as(
    page: Page, base: str, seed: int, account: tuple[str, str], *, substantial: bool = False
) -> None:
    """Sign in as ``account`` through the real flow (password, and a one-time code for the
    substantial level), landing on the portal's start page."""
    code, given_names = account
    credentials = demo_credentials(seed, personal_code=code, given_names=given_names)
    level = "substantial" if substantial else "low"
    page.goto(f"{base}/portal/sign-in?level={level}&return_to=/portal", wait_until="load")
    page.fill("#username", credentials.username)
    page.fill("#password", credentials.password)
    page.click("button[type=submit] >> nth=0")
    if substantial:
        page.wait_for_url("**/idp/sign-in?request=*")
        page.fill("#code", _code_on(page, credentials.otp_secret))
        page.click("button[type=submit]")
    page.wait_for_url(f"{base}/portal")


def _housing_support_of(database: Database, person: str) -> str:
    """The housing support (applied for online) of the municipality ``person`` lives in."""
    from joinedup.core.clock import today
    from joinedup.exchange.registry_answers import residence_municipality

    with database.reading() as session:
        municipality = residence_municipality(session, person, today())
    assert municipality is not None, "the parent has a residence"
    return f"housing-support-{municipality}"


@pytest.mark.parametrize("locale", ["en", "et"])
def test_portal_pages_have_no_wcag_22_aa_violations(
    seeded_base_url: str, browser: Browser, seeded: Database, seeded_seed: int, locale: str
) -> None:
    base = seeded_base_url
    axe_source = AXE.read_text(encoding="utf-8")
    from portal_support import register_birth, send_decision_letter

    from joinedup import proactive
    from joinedup.core.clock import today

    parent = _account(seeded, "parent-of-minor", female=True)
    register_birth(seeded, mother=parent[0], born=today())
    message_id = send_decision_letter(
        seeded,
        parent[0],
        f"axe-{locale}",
        paragraph="We pay the child benefit for each of your children under 16.",
    )
    with seeded.reading() as session:
        offer = next(
            e
            for e in proactive.list_entitlements(session, person_code=parent[0]).items
            if e.decisions
        )
    page = browser.new_page(viewport={"width": 375, "height": 812})  # mobile first
    problems: list[str] = []
    page.on("pageerror", lambda error: problems.append(str(error)))
    sign_in_as(page, base, seeded_seed, parent)
    for path, name in (
        ("/portal", "start"),
        ("/portal/overview", "overview"),
        ("/portal/data-usage", "data-usage"),
        ("/portal/messages", "messages"),
        (f"/portal/messages/{message_id}", "letter"),
        ("/portal/consents", "consents"),
        ("/portal/entitlements", "entitlements"),
        (f"/portal/entitlements/{offer.id}", "entitlement"),
        ("/portal/life-events/birth", "life-event"),
        ("/portal/services?level=local", "services"),
        ("/portal/services/child-benefit", "service"),
    ):
        _check(page, axe_source, f"{base}{path}", locale)
        _shot(page, f"{name}-{locale}")
    page.goto(f"{base}/portal/data-usage?lang={locale}", wait_until="load")
    _follow(page, "main .govuk-summary-card__action a >> nth=0")
    _check(page, axe_source, page.url, locale, None)
    _shot(page, f"data-usage-verify-{locale}")
    # give consent, then the question after the task, then its error page
    page.goto(f"{base}/portal/consents?lang={locale}", wait_until="load")
    page.click("main form button[type=submit] >> nth=0")
    page.wait_for_url("**/portal/consents?done=given")
    _check(page, axe_source, page.url, locale, None)
    _shot(page, f"consent-given-feedback-{locale}")
    _follow(page, "form.joinedup-feedback button[type=submit]")
    _check(page, axe_source, page.url, locale, None)
    _shot(page, f"feedback-error-{locale}")
    # a decision about the entitlement, then its question
    page.goto(f"{base}/portal/entitlements/{offer.id}?lang={locale}", wait_until="load")
    page.click("main form button[type=submit] >> nth=-1")
    page.wait_for_url("**/portal/entitlements/*?done=*")
    _check(page, axe_source, page.url, locale, None)
    _shot(page, f"entitlement-decided-{locale}")
    # apply online for housing support: the form, its errors, the decision and its question
    housing = _housing_support_of(seeded, parent[0])
    _check(page, axe_source, f"{base}/portal/services/{housing}", locale)
    _shot(page, f"service-application-{locale}")
    _check(page, axe_source, f"{base}/portal/services/{housing}/apply", locale)
    _shot(page, f"apply-{locale}")
    page.fill("#rent", "-5")
    _follow(page, "main form button[type=submit]")
    _check(page, axe_source, page.url, locale, None)
    _shot(page, f"apply-error-{locale}")
    page.fill("#rent", "450.00")
    page.check("#housing-tenure")
    page.click("main form button[type=submit]")
    page.wait_for_url("**/portal/applications/*")
    _check(page, axe_source, page.url, locale, None)
    _shot(page, f"application-decided-{locale}")
    page.close()

    # the back office's person view, as a caseworker
    staff = browser.new_page()
    sign_in_as(staff, base, seeded_seed, _account(seeded, "staff", "caseworker"), substantial=True)
    staff.goto(f"{base}/backoffice?lang={locale}", wait_until="load")
    _follow(staff, "main a.govuk-link >> nth=0")
    _follow(staff, "main a[href$='/person']")
    _check(staff, axe_source, staff.url, locale, None)
    staff.fill("#personal-code", parent[0])
    staff.check("#access")
    _follow(staff, "main button[type=submit]")
    _check(staff, axe_source, staff.url, locale, None)
    _shot(staff, f"backoffice-person-{locale}")
    if staff.locator("main input[name=also]").count():  # what else the purpose allows
        _follow(staff, "main form:has(input[name=also]) button >> nth=0")
        _check(staff, axe_source, staff.url, locale, None)
        _shot(staff, f"backoffice-person-more-{locale}")
    staff.close()
    assert not problems, problems


def test_the_citizens_journey_in_a_browser(
    seeded_base_url: str, browser: Browser, seeded: Database, seeded_seed: int
) -> None:
    """A baby is born (civil registration; the proactive services react). Her mother signs
    in → sees the new entitlements and why → reads the decision letter → sees who used her
    data (the Social Insurance Board, to decide) and checks a record against the log →
    switches to acting for her child → sees the child's overview."""
    from portal_support import register_birth

    from joinedup.core.clock import today

    base = seeded_base_url
    parent = _account(seeded, "parent-of-minor", female=True)
    register_birth(seeded, mother=parent[0], born=today())
    page = browser.new_page(viewport={"width": 375, "height": 812})
    sign_in_as(page, base, seeded_seed, parent)
    _shot(page, "journey-1-signed-in")

    _follow(page, "main a[href='/portal/entitlements']")
    assert page.get_by_role("heading", name="Offered to you").count() == 1
    _follow(page, "main a:has-text('Birth grant')")
    assert page.locator(".govuk-inset-text").inner_text().startswith("Eligible:")
    _shot(page, "journey-2-entitlement-and-reason")

    page.goto(f"{base}/portal/messages", wait_until="load")
    assert page.locator("main").get_by_text("3 unread letters").count() == 1
    _follow(page, "main .joinedup-letters a >> nth=0")
    assert page.get_by_text("You opened this letter").count() == 1
    _shot(page, "journey-3-letter")

    page.goto(f"{base}/portal/data-usage", wait_until="load")
    assert page.get_by_text("Checking whether you are entitled to a benefit").count() > 0
    assert page.get_by_text("Social Insurance Board").count() > 0
    _shot(page, "journey-4-who-used-my-data")
    _follow(page, "main .govuk-summary-card__action a >> nth=0")
    assert page.get_by_text("The record is in the log").count() == 1
    _shot(page, "journey-5-verified")

    page.goto(f"{base}/portal/acting-for", wait_until="load")
    page.check("#subject-2")  # the first child (the person themselves come first)
    child_name = page.locator("label[for=subject-2]").inner_text().strip()
    page.click("main button[type=submit]")
    page.wait_for_url(f"{base}/portal")
    assert page.get_by_text(f"acting for {child_name}").count() == 1
    page.goto(f"{base}/portal/overview", wait_until="load")
    assert page.locator(".govuk-caption-l").inner_text().strip() == child_name
    _shot(page, "journey-6-acting-for-child")
    page.close()
