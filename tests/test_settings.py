from __future__ import annotations

import pytest
from pydantic import ValidationError

from joinedup.core.settings import DEFAULT_SECRET, Settings

STRONG = "x" * 40
PG = "postgresql+psycopg://joinedup@db/joinedup"


def test_defaults_are_embedded(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("JOINEDUP_DATABASE_URL", "JOINEDUP_BUS_URL", "JOINEDUP_ENVIRONMENT"):
        monkeypatch.delenv(name, raising=False)
    settings = Settings()
    assert settings.resolved_database_url.startswith("sqlite:///")
    assert settings.resolved_database_url.endswith("var/joinedup.db")
    assert settings.bus_url == "inprocess://"


def test_reads_prefixed_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("JOINEDUP_BUS_URL", "nats://127.0.0.1:4222")
    monkeypatch.setenv("JOINEDUP_PORT", "9000")
    settings = Settings()
    assert settings.bus_url == "nats://127.0.0.1:4222"
    assert settings.port == 9000


@pytest.mark.parametrize(
    ("overrides", "complaint"),
    [
        ({"secret_key": DEFAULT_SECRET}, "JOINEDUP_SECRET_KEY is the development default"),
        ({"secret_key": "short"}, "shorter than 32"),
        ({"log_signing_key": None}, "JOINEDUP_LOG_SIGNING_KEY is not set"),
        ({"database_url": ""}, "must name a PostgreSQL database"),
        ({"database_url": "sqlite:///x.db"}, "must name a PostgreSQL database"),
    ],
)
def test_production_refuses_defaults(overrides: dict[str, object], complaint: str) -> None:
    values: dict[str, object] = {
        "environment": "production",
        "secret_key": STRONG,
        "log_signing_key": "pem",
        "database_url": PG,
        "oidc_issuer": "https://eid.example.gov",
        "oidc_client_secret": STRONG,
    }
    values.update(overrides)
    with pytest.raises(ValidationError, match=complaint):
        Settings(**values)  # type: ignore[arg-type]


def test_production_starts_with_real_secrets() -> None:
    settings = Settings(
        environment="production",  # type: ignore[arg-type]
        secret_key=STRONG,  # type: ignore[arg-type]
        log_signing_key="pem",  # type: ignore[arg-type]
        database_url=PG,
        oidc_issuer="https://eid.example.gov",
        oidc_client_secret=STRONG,  # type: ignore[arg-type]
    )
    assert settings.is_production


def test_rejects_out_of_range_port() -> None:
    with pytest.raises(ValidationError, match="port"):
        Settings(port=70000)


def _production(**overrides: object) -> dict[str, object]:
    values: dict[str, object] = {
        "environment": "production",
        "secret_key": STRONG,
        "log_signing_key": "pem",
        "database_url": PG,
        "oidc_issuer": "https://eid.example.gov",
        "oidc_client_secret": "s" * 40,
    }
    values.update(overrides)
    return values


@pytest.mark.parametrize(
    ("overrides", "complaint"),
    [
        ({"oidc_issuer": ""}, "JOINEDUP_OIDC_ISSUER is not set"),
        ({"oidc_issuer": "http://eid.example.gov"}, "must be an https:// URL"),
        ({"oidc_client_secret": None}, "JOINEDUP_OIDC_CLIENT_SECRET is not set"),
        ({"idp_enabled": True}, "JOINEDUP_IDP_SIGNING_KEY is not set"),
    ],
)
def test_production_refuses_an_identity_left_to_defaults(
    overrides: dict[str, object], complaint: str
) -> None:
    with pytest.raises(ValidationError, match=complaint):
        Settings(**_production(**overrides))  # type: ignore[arg-type]


def test_the_embedded_provider_runs_in_production_only_when_enabled_explicitly() -> None:
    assert not Settings(**_production()).embedded_idp  # type: ignore[arg-type]
    enabled = Settings(**_production(oidc_issuer="", idp_enabled=True, idp_signing_key="pem"))  # type: ignore[arg-type]
    assert enabled.embedded_idp
    assert enabled.resolved_oidc_issuer == enabled.embedded_issuer
    assert Settings().embedded_idp  # outside production: on by default


def test_the_portal_subsystem_default_is_the_demo_country_s_portal() -> None:
    from joinedup.demo.exchange_setup import portal_subsystem

    assert Settings().portal_subsystem == portal_subsystem()
