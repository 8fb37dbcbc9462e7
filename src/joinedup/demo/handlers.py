"""What the demo country adds to the workers: its agencies' systems, served in-process.

The demo's agencies publish their Tell Us Once notice services at
``<public_url>/agency-systems/…``, which the embedded web application serves
(:mod:`joinedup.demo.api`). A worker process has no web application, so the calls it makes
through the exchange to those addresses reach the same systems in-process
(:func:`joinedup.exchange.mount_local_system`).
"""

from __future__ import annotations

from joinedup.demo.agency_systems import PREFIX, agency_systems_app
from joinedup.exchange import mount_local_system

mount_local_system(PREFIX, agency_systems_app)
