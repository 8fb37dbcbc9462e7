"""Structured logging: one JSON object per line (or a console rendering), personal data masked.

Every log line — from structlog or from the standard library (uvicorn, SQLAlchemy, warnings)
— goes through the same processors: context variables bound for the request (``request_id``),
an ISO 8601 UTC timestamp, the level, and :func:`mask_event`, which redacts personal data
before anything is rendered. Masking runs after exceptions are formatted, so a traceback
that quotes a personal code or an SQL parameter is masked too.
"""

from __future__ import annotations

import logging
import re
import sys
from collections.abc import Mapping
from typing import Any, TextIO

import structlog
from structlog.types import EventDict, Processor, WrappedLogger

from joinedup.core.settings import Settings

REDACTED = "[redacted]"

# An 11-digit personal code standing alone (not part of a longer number).
PERSONAL_CODE = re.compile(r"(?<!\d)\d{11}(?!\d)")
# An IBAN: country code, two check digits, 11 to 30 alphanumerics, optionally grouped by 4.
IBAN = re.compile(r"\b[A-Z]{2}\d{2}(?:[ ]?[A-Z0-9]){11,30}\b")
EMAIL = re.compile(r"[A-Za-z0-9._%+-]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,}")
# SQLAlchemy quotes statement parameters in its error messages; they are row values.
SQL_PARAMETERS = re.compile(r"\[parameters: .*?\](?=\s*(?:\n|\(Background|$))", re.DOTALL)

#: Keys whose values are personal data or secrets whatever they look like.
SENSITIVE_KEYS = frozenset(
    {
        "name",
        "given_name",
        "family_name",
        "first_name",
        "last_name",
        "full_name",
        "address",
        "street",
        "personal_code",
        "national_id",
        "date_of_birth",
        "birth_date",
        "iban",
        "account_number",
        "email",
        "phone",
        "phone_number",
        "password",
        "secret",
        "token",
        "access_token",
        "refresh_token",
        "id_token",
        "api_key",
        "client_secret",
        "authorization",
        "cookie",
        "set_cookie",
    }
)
_SENSITIVE_SUFFIXES = ("_token", "_secret", "_password", "_personal_code", "_iban", "_email")

#: Keys the logging machinery itself writes; their values are never personal data.
_STRUCTURAL_KEYS = frozenset({"timestamp", "level", "logger"})


def _is_sensitive(key: str) -> bool:
    normalised = key.lower().replace("-", "_")
    return normalised in SENSITIVE_KEYS or normalised.endswith(_SENSITIVE_SUFFIXES)


def mask_personal_code(code: str) -> str:
    """All but the last four digits hidden: ``38001010001`` → ``*******0001``."""
    return "*" * (len(code) - 4) + code[-4:]


def _mask_iban(match: re.Match[str]) -> str:
    compact = match.group(0).replace(" ", "")
    return compact[:2] + "*" * (len(compact) - 6) + compact[-4:]


def mask_personal_data(text: str) -> str:
    """``text`` with e-mail addresses, IBANs, personal codes and SQL parameters masked."""
    text = SQL_PARAMETERS.sub("[parameters: redacted]", text)
    text = EMAIL.sub("[email]", text)
    text = IBAN.sub(_mask_iban, text)
    return PERSONAL_CODE.sub(lambda m: mask_personal_code(m.group(0)), text)


def _mask_value(value: Any) -> Any:
    if isinstance(value, str):
        return mask_personal_data(value)
    if isinstance(value, Mapping):
        return {
            k: (REDACTED if _is_sensitive(str(k)) and v is not None else _mask_value(v))
            for k, v in value.items()
        }
    if isinstance(value, list | tuple | set | frozenset):
        return [_mask_value(v) for v in value]
    if isinstance(value, int) and not isinstance(value, bool) and 10**10 <= value < 10**11:
        return mask_personal_code(str(value))
    if isinstance(value, bytes | bytearray):
        return "[bytes]"
    if value is None or isinstance(value, bool | int | float):
        return value
    # Anything else (an exception, a model, a UUID) is rendered as text: mask that text.
    return mask_personal_data(str(value))


def mask_event(_logger: WrappedLogger, _method: str, event_dict: EventDict) -> EventDict:
    """structlog processor: redact personal data in every value of the event."""
    for key, value in list(event_dict.items()):
        if key in _STRUCTURAL_KEYS or value is None:
            continue
        event_dict[key] = REDACTED if _is_sensitive(key) else _mask_value(value)
    return event_dict


def _drop_color_message(_logger: WrappedLogger, _method: str, event_dict: EventDict) -> EventDict:
    # uvicorn adds a copy of its message with terminal colours; the event already has it.
    event_dict.pop("color_message", None)
    return event_dict


def _shared_processors() -> list[Processor]:
    return [
        structlog.contextvars.merge_contextvars,
        structlog.stdlib.add_log_level,
        structlog.stdlib.add_logger_name,
        structlog.stdlib.ExtraAdder(),
        _drop_color_message,
        structlog.processors.TimeStamper(fmt="iso", utc=True),
        structlog.processors.StackInfoRenderer(),
    ]


class _RootHandler(logging.StreamHandler[TextIO]):
    """The handler joinedup puts on the root logger.

    Without a fixed stream it writes to whatever ``sys.stderr`` is when a record is emitted,
    so a test runner that swaps standard error per test still sees every line.
    """

    def __init__(self, stream: TextIO | None) -> None:
        super().__init__()
        self._fixed = stream

    @property
    def stream(self) -> TextIO:
        return self._fixed if self._fixed is not None else sys.stderr

    @stream.setter
    def stream(self, value: TextIO) -> None:
        self._fixed = value


def configure_logging(settings: Settings, *, stream: TextIO | None = None) -> None:
    """Route structlog and the standard library's logging through one masked renderer.

    ``stream`` defaults to standard error; tests pass a buffer. Safe to call again: the
    root logger's handlers are replaced, not added to.
    """
    renderer: Processor
    if settings.log_format == "json":
        renderer = structlog.processors.JSONRenderer()
    else:
        renderer = structlog.dev.ConsoleRenderer(colors=False)

    structlog.configure(
        processors=[
            structlog.stdlib.filter_by_level,
            *_shared_processors(),
            structlog.stdlib.PositionalArgumentsFormatter(),
            structlog.stdlib.ProcessorFormatter.wrap_for_formatter,
        ],
        logger_factory=structlog.stdlib.LoggerFactory(),
        wrapper_class=structlog.stdlib.BoundLogger,
        # Not cached: a logger first used before this call would keep the default (unmasked)
        # configuration for the life of the process.
        cache_logger_on_first_use=False,
    )
    formatter = structlog.stdlib.ProcessorFormatter(
        foreign_pre_chain=_shared_processors(),
        processors=[
            structlog.stdlib.ProcessorFormatter.remove_processors_meta,
            structlog.processors.format_exc_info,
            mask_event,
            renderer,
        ],
    )
    handler = _RootHandler(stream)
    handler.setFormatter(formatter)

    root = logging.getLogger()
    for old in [h for h in root.handlers if isinstance(h, _RootHandler)]:
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(settings.log_level)

    # uvicorn's own handlers would print a second, unmasked copy: let records reach the root.
    for name in ("uvicorn", "uvicorn.error", "uvicorn.access"):
        uvicorn_logger = logging.getLogger(name)
        uvicorn_logger.handlers.clear()
        uvicorn_logger.propagate = True
    # SQL statements at INFO would log parameters (row values), and httpx logs every URL it
    # calls: warnings and errors only.
    for name in ("sqlalchemy", "httpx", "httpcore"):
        logging.getLogger(name).setLevel(logging.WARNING)
    logging.captureWarnings(True)


def bind_request_context(**values: Any) -> None:
    """Bind values (``request_id``) to every log line of the current request or task."""
    structlog.contextvars.bind_contextvars(**values)


def clear_request_context() -> None:
    structlog.contextvars.clear_contextvars()


def is_configured() -> bool:
    """Whether :func:`configure_logging` has run in this process."""
    return any(isinstance(h, _RootHandler) for h in logging.getLogger().handlers)


def get_logger(name: str) -> structlog.stdlib.BoundLogger:
    logger: structlog.stdlib.BoundLogger = structlog.stdlib.get_logger(name)
    return logger
