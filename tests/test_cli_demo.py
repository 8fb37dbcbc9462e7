"""`joinedup demo --port P` is reached at P: the embedded sign-in provider's issuer follows."""

from __future__ import annotations

import pytest

from joinedup.cli.server import demo_settings
from joinedup.core.settings import Settings


def test_the_public_address_follows_the_port_given(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("JOINEDUP_PUBLIC_URL", raising=False)
    settings = Settings()
    assert demo_settings(settings, None, None).public_url == settings.public_url
    moved = demo_settings(settings, None, 8765)
    assert moved.public_url == f"http://{settings.host}:8765"
    assert moved.resolved_oidc_issuer.startswith(f"http://{settings.host}:8765/")


def test_a_public_address_set_by_the_operator_is_kept(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("JOINEDUP_PUBLIC_URL", "https://gov.example")
    assert demo_settings(Settings(), "127.0.0.2", 8765).public_url == "https://gov.example"


def test_serve_believes_forwarded_headers_only_from_the_proxies_named(
    monkeypatch: pytest.MonkeyPatch, tmp_path: object
) -> None:
    """Behind a reverse proxy the operator names it (JOINEDUP_FORWARDED_ALLOW_IPS): uvicorn
    then takes the client's address from X-Forwarded-For (sign-in throttling counts by it);
    by default only a proxy on the same machine is believed."""
    from typing import Any

    import uvicorn

    from joinedup.cli import server

    seen: dict[str, Any] = {}
    monkeypatch.setattr(uvicorn, "run", lambda app, **options: seen.update(options))
    made: dict[str, Any] = {}

    def create_app(settings: Settings, **options: Any) -> object:
        made.update(options)
        return object()

    monkeypatch.setattr("joinedup.web.create_app", create_app)
    server._run_web(Settings(forwarded_allow_ips="10.0.0.0/8"), None, None, with_workers=False)
    assert (seen["proxy_headers"], seen["forwarded_allow_ips"]) == (True, "10.0.0.0/8")
    assert made == {"with_workers": False, "serving": True}  # a server settles its collector
    assert Settings().forwarded_allow_ips == "127.0.0.1"
