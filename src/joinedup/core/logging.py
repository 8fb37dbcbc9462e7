"""Structured logging (structlog). Placeholder replaced by the web/API-basics work."""

from __future__ import annotations

from joinedup.core.settings import Settings


def configure_logging(settings: Settings) -> None:
    import logging

    logging.basicConfig(level=settings.log_level)
