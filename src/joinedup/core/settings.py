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


#: Steps of niceness the thread holding a SQLite file's writers' turn is raised by
#: (``sqlite_writer_priority``; :data:`joinedup.core.sqlite._priority`).
WRITER_PRIORITY_BOOST = 10


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
        10,
        ge=1,
        description="Connections kept per process (PostgreSQL; SQLite: per writer and "
        "reader), as many again when busy.",
    )
    sqlite_writer_priority: int = Field(
        WRITER_PRIORITY_BOOST,
        ge=0,
        le=39,
        description="On a SQLite file (Linux): steps of scheduling niceness the thread "
        "holding the one writer's turn is raised by while it holds it, so that a busy "
        "machine runs first the write everything else waits for. Needs `CAP_SYS_NICE` or a "
        "`RLIMIT_NICE` that allows it (systemd: `LimitNICE=-10`); without, nothing changes "
        "(said once in the log). 0: never.",
    )
    page_concurrency: int = Field(
        4,
        ge=1,
        le=256,
        description="Portal and back-office pages one web process works on at once; the "
        "others wait their turn (more threads than cores only share the interpreter lock "
        "and the database's connections, and every page then takes as long as all of them). "
        "Raise it when the database is across a network: pages then wait on it, not on the "
        "processor.",
    )
    page_wait_seconds: float = Field(
        15.0,
        gt=0,
        le=300,
        description="Seconds a page waits for its turn (see page_concurrency) before it is "
        "answered 503 Too busy with Retry-After: an overloaded process says so at once "
        "instead of answering far too late.",
    )
    cpu_scheduling: Literal["batch", "normal"] = Field(
        "batch",
        description="How a web process asks Linux to schedule its threads: `batch` "
        "(SCHED_BATCH: a thread it wakes, such as a page's worker thread, does not preempt "
        "the one running, which on busy cores often held the interpreter lock the woken one "
        "then only waited for) or `normal` (the system's default). No effect where the "
        "system has no such policy.",
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
    forwarded_allow_ips: str = Field(
        "127.0.0.1",
        min_length=1,
        max_length=1000,
        description="The reverse proxies (comma-separated addresses or networks, `*` for any) "
        "whose `X-Forwarded-For` and `X-Forwarded-Proto` `joinedup serve` believes. Behind a "
        "proxy not listed, every request seems to come from the proxy: sign-in throttling by "
        "address would then lock everyone out together.",
    )
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
    oidc_issuer: str = Field(
        "",
        description="Issuer URL of the OpenID Connect provider people sign in with (the "
        "national eID). Default: the embedded provider at `<public_url>/idp`.",
    )
    oidc_client_id: str = Field(
        "joinedup-portal",
        description="joinedup's client id at that provider.",
    )
    oidc_client_secret: SecretStr | None = Field(
        None,
        description="joinedup's client secret at that provider. Default (embedded provider "
        "only): derived from `JOINEDUP_SECRET_KEY`. Required with an external provider.",
    )
    idp_enabled: bool | None = Field(
        None,
        description="Run the embedded OpenID Connect provider (demo accounts) at `/idp`. "
        "Default: on outside production, off in production, where it starts only when set "
        "to `true` explicitly.",
    )
    idp_signing_key: SecretStr | None = Field(
        None,
        description="EC P-256 private key (PEM, PKCS#8) signing the embedded provider's ID "
        "tokens (ES256). Default outside production: generated once into `<data_dir>/keys/`. "
        "Required in production when the embedded provider runs.",
    )
    portal_subsystem: str = Field(
        "GOV/70000579/portal",
        description="The exchange subsystem (`CLASS/MEMBER/SUBSYSTEM`) the portal reads the "
        "registries as (e.g. to establish mandates). Default: the demo country's Central "
        "Digital Office `portal`.",
    )
    life_event_subsystem: str = Field(
        "GOV/70000579/life-events",
        description="The exchange subsystem (`CLASS/MEMBER/SUBSYSTEM`) that routes life events "
        "to the services they concern: it reads only the personal codes of the persons an "
        "event names (purpose `life-event-routing`). Default: the demo country's Central "
        "Digital Office `life-events`.",
    )
    tell_us_once_subsystem: str = Field(
        "GOV/70000579/tell-us-once",
        description="The exchange subsystem (`CLASS/MEMBER/SUBSYSTEM`) Tell Us Once informs "
        "the agencies as and reads the deceased's next of kin as. Default: the demo country's "
        "Central Digital Office `tell-us-once`.",
    )
    tell_us_once_max_attempts: int = Field(
        6,
        ge=1,
        le=100,
        description="Attempts to inform an agency of a life event before the notification is "
        "put in the dead-letter list for an operator.",
    )
    tell_us_once_retry_delay: float = Field(
        30.0,
        gt=0,
        le=86_400,
        description="Seconds before an agency that did not acknowledge is called again; "
        "doubles with every attempt (at most one day).",
    )
    tell_us_once_lease_seconds: float = Field(
        60.0,
        gt=0,
        le=3600,
        description="How long a worker holds a notification it is delivering; a worker that "
        "died lets go of it after this (another worker then delivers it, with the same "
        "message id, so the agency handles it once).",
    )
    tell_us_once_concurrency: int = Field(
        32,
        ge=1,
        le=256,
        description="Notifications a worker's Tell Us Once dispatcher has in flight at once "
        "(each a call to an agency's system that waits for its answer).",
    )
    tell_us_once_per_agency: int = Field(
        8,
        ge=1,
        le=256,
        description="Notifications in flight at once to one agency (all its services), "
        "counted over every worker: a burst of deaths does not send a small agency's system "
        "more calls at a time than this; the rest wait until one is answered.",
    )
    tell_us_once_timeout: float = Field(
        10.0, gt=0, le=300, description="Seconds an agency's system has to answer a notification."
    )
    session_idle_minutes: int = Field(
        30, ge=1, le=24 * 60, description="A web session ends after this many idle minutes."
    )
    session_max_hours: int = Field(
        12, ge=1, le=7 * 24, description="A web session ends this many hours after sign-in."
    )
    signin_max_failures: int = Field(
        5,
        ge=1,
        le=1000,
        description="Failed sign-ins to one account within the throttling window before the "
        "account is locked for the rest of it.",
    )
    signin_max_failures_per_ip: int = Field(
        30,
        ge=1,
        le=100_000,
        description="Failed sign-ins from one client address within the window before that "
        "address is refused for the rest of it.",
    )
    signin_window_minutes: int = Field(
        15, ge=1, le=24 * 60, description="The sign-in throttling window, in minutes."
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
            problems += self._identity_problems()
            if problems:
                raise ValueError("refusing to start in production: " + "; ".join(problems) + ".")
        return self

    def _identity_problems(self) -> list[str]:
        """Production signs people in with a configured provider, never by accident with
        the embedded one (it authenticates demo accounts)."""
        problems = []
        if self.embedded_idp and self.idp_signing_key is None:
            problems.append("JOINEDUP_IDP_SIGNING_KEY is not set (the embedded provider runs)")
        if not self.oidc_issuer and not self.embedded_idp:
            problems.append(
                "JOINEDUP_OIDC_ISSUER is not set (and the embedded provider is off: set "
                "JOINEDUP_IDP_ENABLED=true to run it in production on purpose)"
            )
        if self.oidc_issuer:
            if not self.oidc_issuer.startswith("https://"):
                problems.append("JOINEDUP_OIDC_ISSUER must be an https:// URL")
            if self.oidc_client_secret is None:
                problems.append("JOINEDUP_OIDC_CLIENT_SECRET is not set")
        return problems

    @property
    def embedded_idp(self) -> bool:
        """Whether this process runs the embedded OpenID Connect provider."""
        if self.idp_enabled is None:
            return self.environment is not Environment.PRODUCTION
        return self.idp_enabled

    @property
    def resolved_oidc_issuer(self) -> str:
        """The provider joinedup signs people in with (the embedded one by default)."""
        return (self.oidc_issuer or self.embedded_issuer).rstrip("/")

    @property
    def embedded_issuer(self) -> str:
        return self.public_url.rstrip("/") + "/idp"

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
