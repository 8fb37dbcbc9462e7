"""The pages are admitted a few at a time per process (AdmissionMiddleware); the rest of the
application is not held up by them."""

from __future__ import annotations

import asyncio

import httpx
import pytest
from starlette.types import Receive, Scope, Send

from joinedup.core.settings import Settings
from joinedup.web.middleware import ADMITTED_PREFIXES, AdmissionMiddleware


class Probe:
    """An application that counts the requests inside it and holds each until released."""

    def __init__(self) -> None:
        self.inside = 0
        self.most = 0
        self.release = asyncio.Event()
        self.entered: list[str] = []

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        self.inside += 1
        self.most = max(self.most, self.inside)
        self.entered.append(scope["path"])
        try:
            if scope["path"].startswith("/portal"):
                await self.release.wait()
            await send({"type": "http.response.start", "status": 200, "headers": []})
            await send({"type": "http.response.body", "body": scope["path"].encode()})
        finally:
            self.inside -= 1


async def _settle() -> None:
    for _ in range(20):
        await asyncio.sleep(0)


@pytest.mark.anyio
async def test_pages_are_admitted_a_few_at_a_time_in_order_and_others_pass() -> None:
    probe = Probe()
    app = AdmissionMiddleware(probe, limit=2, prefixes=ADMITTED_PREFIXES)
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
        pages = [asyncio.create_task(client.get(f"/portal/page-{n}")) for n in range(6)]
        await _settle()
        assert probe.inside == 2  # two at work, four waiting their turn
        # an identity-provider or exchange request is not held up by the pages in line
        other = await asyncio.wait_for(client.get("/idp/token"), timeout=5)
        assert other.status_code == 200
        assert probe.inside == 2
        probe.release.set()
        answers = await asyncio.wait_for(asyncio.gather(*pages), timeout=5)
    assert [a.status_code for a in answers] == [200] * 6
    assert probe.most == 3  # the two pages and the provider's request
    page_order = [p for p in probe.entered if p.startswith("/portal")]
    assert page_order == [f"/portal/page-{n}" for n in range(6)]  # first come, first served


@pytest.mark.anyio
async def test_a_failing_page_gives_its_turn_back() -> None:
    async def failing(scope: Scope, receive: Receive, send: Send) -> None:
        raise RuntimeError("broken page")

    app = AdmissionMiddleware(failing, limit=1, prefixes=ADMITTED_PREFIXES)
    for _ in range(3):  # with the turn kept, the second would wait for ever
        with pytest.raises(RuntimeError):
            await asyncio.wait_for(
                app({"type": "http", "path": "/backoffice"}, _receive, _send), timeout=5
            )


async def _receive() -> dict[str, object]:
    return {"type": "http.request", "body": b"", "more_body": False}


async def _send(message: object) -> None:
    return None


def test_a_new_event_loop_gets_a_line_of_its_own() -> None:
    """A test client runs the application in a new loop each time: a semaphore bound to an
    earlier loop would raise once it had to make a request wait."""
    probe = Probe()
    app = AdmissionMiddleware(probe, limit=1, prefixes=ADMITTED_PREFIXES)

    async def two_at_once() -> None:
        probe.release = asyncio.Event()
        scope = {"type": "http", "path": "/portal"}
        first = asyncio.create_task(app(scope, _receive, _send))
        second = asyncio.create_task(app(scope, _receive, _send))
        await _settle()
        assert probe.inside == 1
        probe.release.set()
        await asyncio.wait_for(asyncio.gather(first, second), timeout=5)

    asyncio.run(two_at_once())
    asyncio.run(two_at_once())


def test_the_limit_is_a_setting_with_bounds() -> None:
    assert Settings().page_concurrency == 4
    assert Settings(page_concurrency=1).page_concurrency == 1
    with pytest.raises(ValueError, match="page_concurrency"):
        Settings(page_concurrency=0)
    assert Settings().page_wait_seconds == 15.0
    with pytest.raises(ValueError, match="page_wait_seconds"):
        Settings(page_wait_seconds=0)


def _body_receiver(chunks: list[bytes], gate: asyncio.Event | None = None) -> Receive:
    """A client sending ``chunks`` as a request's body; the last only once ``gate`` is set."""
    pending = list(chunks)

    async def receive() -> dict[str, object]:
        if len(pending) == 1 and gate is not None:
            await gate.wait()
        if not pending:
            await asyncio.Event().wait()  # nothing more: as a client waiting for its answer
        body = pending.pop(0)
        return {"type": "http.request", "body": body, "more_body": bool(pending)}

    return receive


class BodyEcho:
    """An application reading the whole body, answering with it, counting who is inside."""

    def __init__(self) -> None:
        self.inside = 0
        self.bodies: list[bytes] = []
        self.hold_after_start = asyncio.Event()
        self.slow_reader_body: bytes | None = None  # whose client reads the answer slowly

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        self.inside += 1
        try:
            body = b""
            while True:
                message = await receive()
                body += message.get("body", b"")
                if not message.get("more_body"):
                    break
            self.bodies.append(body)
            await send({"type": "http.response.start", "status": 200, "headers": []})
            if body == self.slow_reader_body:
                await self.hold_after_start.wait()  # a slow client reading the answer
            await send({"type": "http.response.body", "body": body})
        finally:
            self.inside -= 1


def test_a_slow_client_holds_no_turn_sending_its_form_or_reading_the_answer() -> None:
    async def scenario() -> None:
        echo = BodyEcho()
        app = AdmissionMiddleware(echo, limit=1, prefixes=ADMITTED_PREFIXES)
        scope = {"type": "http", "path": "/portal/feedback", "method": "POST"}
        gate = asyncio.Event()
        slow_sender = asyncio.create_task(
            app(scope, _body_receiver([b"rating=", b"5"], gate), _send)
        )
        await _settle()
        # the slow sender's body is not all there: it has no turn, so another page is served
        quick = _body_receiver([b"a=1"])
        await asyncio.wait_for(app(scope, quick, _send), timeout=5)
        assert echo.bodies == [b"a=1"]
        gate.set()
        await asyncio.wait_for(slow_sender, timeout=5)
        assert echo.bodies == [b"a=1", b"rating=5"]  # nothing lost on the way
        # a client slow to read the answer gave its turn back when the answer started
        echo.slow_reader_body = b"b=2"
        slow_reader = asyncio.create_task(app(scope, _body_receiver([b"b=2"]), _send))
        await _settle()
        assert echo.inside == 1
        await asyncio.wait_for(app(scope, _body_receiver([b"c=3"]), _send), timeout=5)
        echo.hold_after_start.set()
        await asyncio.wait_for(slow_reader, timeout=5)
        assert echo.bodies[-2:] == [b"b=2", b"c=3"]

    asyncio.run(scenario())


def test_a_body_larger_than_a_form_is_refused_without_a_turn(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A body over the limit, by its length or as it arrives, is answered 413 (a problem
    document) and never admitted: a client trickling it in would otherwise hold a turn."""
    import joinedup.web.middleware as middleware

    monkeypatch.setattr(middleware, "PAGE_BODY_BYTES", 8)
    sent: list[dict[str, object]] = []

    async def send(message: dict[str, object]) -> None:
        sent.append(message)

    async def scenario() -> None:
        echo = BodyEcho()
        app = AdmissionMiddleware(echo, limit=1, prefixes=ADMITTED_PREFIXES)
        scope = {"type": "http", "path": "/portal/feedback", "method": "POST", "headers": []}
        gate = asyncio.Event()  # the rest never comes: the answer must not wait for it
        trickled = _body_receiver([b"aaaa", b"bbbb", b"cccc", b"dddd"], gate)
        await asyncio.wait_for(app(scope, trickled, send), timeout=5)
        declared = {**scope, "headers": [(b"content-length", b"9")]}
        await asyncio.wait_for(app(declared, _body_receiver([b"x"]), send), timeout=5)
        assert echo.bodies == []  # neither reached the application
        # at the limit, admitted as usual
        await asyncio.wait_for(app(scope, _body_receiver([b"abcd", b"efgh"]), send), timeout=5)
        assert echo.bodies == [b"abcdefgh"]

    asyncio.run(scenario())
    starts = [m for m in sent if m["type"] == "http.response.start"]
    assert [m["status"] for m in starts] == [413, 413, 200]
    headers = dict(starts[0]["headers"])  # type: ignore[arg-type]
    assert headers[b"content-type"] == b"application/problem+json"
    body = b"".join(m.get("body", b"") for m in sent[:2])  # type: ignore[misc]
    assert b"content-too-large" in body


def test_signing_in_is_not_admitted() -> None:
    """The sign-in's return waits for the identity provider (external in production): it
    never waits for, nor holds, a page's turn."""
    release = asyncio.Event()
    served: list[str] = []

    async def hold_the_start_page(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["path"] == "/portal":
            await release.wait()
        served.append(scope["path"])
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": b""})

    app = AdmissionMiddleware(hold_the_start_page, limit=1, prefixes=ADMITTED_PREFIXES)

    async def scenario() -> None:
        release.clear()
        held = asyncio.create_task(app({"type": "http", "path": "/portal"}, _receive, _send))
        await _settle()  # the only turn is taken
        for path in ("/idp/token", "/portal/sign-in/callback", "/portal/sign-out"):
            await asyncio.wait_for(app({"type": "http", "path": path}, _receive, _send), 5)
        blocked = asyncio.create_task(
            app({"type": "http", "path": "/portal/overview"}, _receive, _send)
        )
        await _settle()
        assert "/portal/overview" not in served  # a page still waits its turn
        release.set()
        await asyncio.wait_for(asyncio.gather(held, blocked), timeout=5)

    asyncio.run(scenario())
    assert served == [
        "/idp/token",
        "/portal/sign-in/callback",
        "/portal/sign-out",
        "/portal",
        "/portal/overview",
    ]


def test_a_page_that_waits_too_long_for_its_turn_is_told_the_service_is_busy() -> None:
    """Overloaded, a page is answered 503 with Retry-After once it has waited ``wait``
    seconds (a problem document; the error page for a browser), and its place in line is
    not lost to the next page."""
    release = asyncio.Event()
    sent: list[dict[str, object]] = []

    async def send(message: dict[str, object]) -> None:
        sent.append(message)

    async def slow(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["path"] == "/portal":
            await release.wait()
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": b""})

    app = AdmissionMiddleware(slow, limit=1, prefixes=ADMITTED_PREFIXES, wait=0.2)

    async def scenario() -> None:
        scope = {"type": "http", "path": "/portal", "method": "GET", "headers": []}
        held = asyncio.create_task(app(scope, _receive, _send))
        await _settle()
        overview = {**scope, "path": "/portal/overview"}
        await asyncio.wait_for(app(overview, _receive, send), timeout=5)  # gave up at 0.2 s
        release.set()
        await asyncio.wait_for(held, timeout=5)
        await asyncio.wait_for(app(overview, _receive, send), timeout=5)  # a turn again

    asyncio.run(scenario())
    starts = [m for m in sent if m["type"] == "http.response.start"]
    assert [m["status"] for m in starts] == [503, 200]
    headers = dict(starts[0]["headers"])  # type: ignore[arg-type]
    assert headers[b"retry-after"] == b"5"
    assert headers[b"content-type"] == b"application/problem+json"
    body = b"".join(m.get("body", b"") for m in sent)  # type: ignore[misc]
    assert b"/problems/busy" in body
