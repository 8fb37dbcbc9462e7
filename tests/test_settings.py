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
    )
    assert settings.is_production


def test_rejects_out_of_range_port() -> None:
    with pytest.raises(ValidationError, match="port"):
        Settings(port=70000)
