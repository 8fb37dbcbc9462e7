"""The one validated settings object. Every variable is read from ``JOINEDUP_<NAME>``.

The README's configuration table is generated from the field descriptions below
(``joinedup settings --markdown``), so the documentation cannot drift from the code.
"""

from __future__ import annotations

from enum import StrEnum
from functools import lru_cache
from pathlib import Path
from typing import Literal

from pydantic import Field, SecretStr, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

DEFAULT_SECRET = "joinedup-development-secret-do-not-use-in-production"  # noqa: S105


class Environment(StrEnum):
    DEVELOPMENT = "development"
    TEST = "test"
    PRODUCTION = "production"


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="JOINEDUP_", extra="ignore", frozen=True)

    environment: Environment = Field(
        Environment.DEVELOPMENT,
        description="`development`, `test` or `production`. Production refuses default secrets "
        "and generated keys, and turns on HSTS and secure cookies.",
    )
    data_dir: Path = Field(
        Path("var"),
        description="Where the embedded deployment keeps its SQLite file and generated keys.",
    )
    database_url: str = Field(
        "",
        description="SQLAlchemy URL. Default: a SQLite file `<data_dir>/joinedup.db` (WAL mode). "
        "Production: `postgresql+psycopg://user@host/db`.",
    )
    database_pool_size: int = Field(
        10, ge=1, description="Connections per process in the PostgreSQL pool."
    )
    bus_url: str = Field(
        "inprocess://",
        description="Event bus. `inprocess://` (default) delivers from the outbox table inside "
        "the process; `nats://host:4222` selects NATS JetStream (durable consumers, "
        "explicit acknowledgement, redelivery).",
    )
    nats_stream: str = Field(
        "JOINEDUP", description="JetStream stream name holding the platform's events."
    )
    bus_max_deliveries: int = Field(
        5,
        ge=1,
        le=100,
        description="Attempts at handling an event before it is parked as a dead letter "
        "(an operator can list and replay dead letters).",
    )
    bus_retry_delay: float = Field(
        2.0,
        gt=0,
        le=3600,
        description="Seconds before a failed event is retried; doubles with every attempt, "
        "at most 5 minutes.",
    )
    bus_ack_wait: float = Field(
        30.0,
        gt=0,
        le=3600,
        description="Seconds a delivered event may stay unacknowledged before it is delivered "
        "again (JetStream `ack_wait`; the embedded bus's consumer lease).",
    )
    secret_key: SecretStr = Field(
        SecretStr(DEFAULT_SECRET),
        description="Signs session cookies and CSRF tokens. Required (not the default) in "
        "production.",
    )
    log_signing_key: SecretStr | None = Field(
        None,
        description="Ed25519 private key (PEM, PKCS#8) that signs transparency-log tree heads. "
        "Default in development: generated once into `<data_dir>/keys/`. Required in production.",
    )
    log_batch_size: int = Field(
        2000, ge=1, le=100_000, description="Transparency-log entries appended per transaction."
    )
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = Field(
        "INFO", description="Minimum level of the structured logs."
    )
    log_format: Literal["json", "console"] = Field(
        "json", description="`json` (one object per line, for collectors) or `console`."
    )
    host: str = Field("127.0.0.1", description="Address `joinedup serve` and `demo` bind to.")
    port: int = Field(8000, ge=1, le=65535, description="Port `joinedup serve` and `demo` use.")
    public_url: str = Field(
        "http://127.0.0.1:8000", description="The address people reach the platform at."
    )
    default_locale: str = Field("en", description="Language of pages when the browser asks none.")
    demo_persons: int = Field(
        20_000, ge=100, description="Persons `joinedup demo` seeds on first start."
    )
    demo_seed: int = Field(2026, description="Seed of the synthetic country (deterministic).")
    xroad_instance: str = Field(
        "JOINEDUP", description="X-Road instance identifier of this federation."
    )
    mailbox_deemed_delivered_days: int = Field(
        7,
        ge=0,
        le=60,
        description="Days after a letter reaches the digital mailbox when it counts as "
        "delivered even if it was never opened (legal delivery).",
    )
    paper_deemed_delivered_days: int = Field(
        5,
        ge=0,
        le=60,
        description="Days after a paper letter (to a person exempt from digital post) is "
        "posted when it counts as delivered.",
    )
    mailbox_subsystem: str | None = Field(
        None,
        description="The subsystem (`CLASS/MEMBER/SUBSYSTEM`) the digital mailbox reads postal "
        "addresses as, through the exchange, to post paper letters. Default: the Central "
        "Digital Office's `mailbox` subsystem of the demo country.",
    )
    print_provider_url: str | None = Field(
        None,
        description="Where paper letters are printed and posted. Default: the embedded print "
        "provider, which writes each letter as a file into `<data_dir>/print/`. "
        "`https://…`: a print provider's HTTP API (each letter POSTed as JSON; a 2xx answer "
        "with a `reference` means it was accepted for posting).",
    )

    @model_validator(mode="after")
    def _production_refuses_defaults(self) -> Settings:
        if self.environment is Environment.PRODUCTION:
            problems = []
            if self.secret_key.get_secret_value() == DEFAULT_SECRET:
                problems.append("JOINEDUP_SECRET_KEY is the development default")
            elif len(self.secret_key.get_secret_value()) < 32:
                problems.append("JOINEDUP_SECRET_KEY is shorter than 32 characters")
            if self.log_signing_key is None:
                problems.append("JOINEDUP_LOG_SIGNING_KEY is not set")
            if not self.database_url or self.database_url.startswith("sqlite"):
                problems.append("JOINEDUP_DATABASE_URL must name a PostgreSQL database")
            if problems:
                raise ValueError("refusing to start in production: " + "; ".join(problems) + ".")
        return self

    @property
    def resolved_database_url(self) -> str:
        if self.database_url:
            return self.database_url
        return f"sqlite:///{self.data_dir / 'joinedup.db'}"

    @property
    def is_production(self) -> bool:
        return self.environment is Environment.PRODUCTION


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    """The process-wide settings, read once from the environment."""
    return Settings()
