"""Events of the service catalogue."""

from __future__ import annotations

import dataclasses

from joinedup.core.events import Event


@dataclasses.dataclass(frozen=True, kw_only=True)
class ServiceCatalogued(Event):
    """A service was added to the catalogue or its entry changed (``revised``)."""

    name = "catalogue.service_catalogued.v1"

    code: str
    owner_member_code: str
    delivery_mode: str
    revised: bool
