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
