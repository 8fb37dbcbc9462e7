"""The demo country's HTTP face: its agencies' own systems (``/agency-systems/…``), which the
embedded platform serves so that ``joinedup demo`` needs no other server."""

from __future__ import annotations

from joinedup.demo.agency_systems import router

__all__ = ["router"]
