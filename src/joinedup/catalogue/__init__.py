"""The service catalogue: the services of every agency at every level, the life events that
concern them and whom, how each is delivered (automatic, proactive offer, inform,
application), the ruleset variable that decides it, and its legal and lawful basis.

Public names other contexts (the proactive services, the portal) use: the use cases, the read
model :class:`CatalogueService` with its vocabulary, and the events.
"""

from joinedup.catalogue.events import ServiceCatalogued
from joinedup.catalogue.schemas import (
    CONCERNED_BY,
    CatalogueService,
    Concerns,
    DeliveryMode,
    LawfulBasis,
    Level,
    LifeEvent,
    LifeEventRule,
    Owner,
)
from joinedup.catalogue.service import *  # noqa: F403 (the use cases are the public names)
from joinedup.catalogue.service import __all__ as _service_names

__all__ = [
    "CONCERNED_BY",
    "CatalogueService",
    "Concerns",
    "DeliveryMode",
    "LawfulBasis",
    "Level",
    "LifeEvent",
    "LifeEventRule",
    "Owner",
    "ServiceCatalogued",
    *_service_names,
]
