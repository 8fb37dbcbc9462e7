"""The composition root: the one place that knows every bounded context.

Migrations collect the models from here, the worker the event handlers, the web application
the API routers. A new context is added by listing it in ``CONTEXTS``.
"""

from __future__ import annotations

import importlib
from types import ModuleType

#: Contexts in dependency order. ``core`` is plumbing and is always loaded first.
CONTEXTS: tuple[str, ...] = (
    "registries",
    "consent",
    "exchange",
    "rules",
    "notify",
    "identity",
    "catalogue",
    "proactive",
    "tellusonce",
    "demo",
)

_CORE_MODEL_MODULES = (
    "joinedup.core.outbox",
    "joinedup.core.schedule",
    "joinedup.core.translog.models",
)
#: Plumbing with an HTTP face of its own (the transparency log's tree heads and proofs).
_CORE_API_MODULES = ("joinedup.core.translog.api",)


def _optional(name: str) -> ModuleType | None:
    try:
        return importlib.import_module(name)
    except ModuleNotFoundError as exc:
        if exc.name is not None and name.startswith(exc.name):
            return None  # the context (or that module of it) does not exist yet
        raise


def load_models() -> None:
    """Import every models module so ``Base.metadata`` knows every table."""
    for name in _CORE_MODEL_MODULES:
        importlib.import_module(name)
    for context in CONTEXTS:
        _optional(f"joinedup.{context}.models")


def handler_modules() -> list[ModuleType]:
    """Every context's ``handlers`` module (importing it registers its consumers)."""
    found = (_optional(f"joinedup.{context}.handlers") for context in CONTEXTS)
    return [module for module in found if module is not None]


def api_modules() -> list[ModuleType]:
    """Every ``api`` module (core's, then each context's); each exposes ``router``."""
    names = [*_CORE_API_MODULES, *(f"joinedup.{context}.api" for context in CONTEXTS)]
    found = (_optional(name) for name in names)
    return [module for module in found if module is not None]
