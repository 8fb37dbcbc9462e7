"""The synthetic country the embedded platform runs on: regions and municipalities, agencies
at three levels and their partners, businesses, and a coherent population with families,
homes, jobs, incomes and payment accounts. Deterministic for a seed.

``joinedup seed`` and ``joinedup demo`` call :func:`seed_country` and :func:`is_seeded` (and,
reusing a country seeded before, :func:`update_demo_exchange`).
"""

from joinedup.demo.agencies import REGISTRY_OWNERS, Organisation, organisation, organisations
from joinedup.demo.exchange_setup import update_demo_exchange
from joinedup.demo.geography import COUNTRY_NAME
from joinedup.demo.seed import SeedSummary, is_seeded, seed_country

__all__ = [
    "COUNTRY_NAME",
    "REGISTRY_OWNERS",
    "Organisation",
    "SeedSummary",
    "is_seeded",
    "organisation",
    "organisations",
    "seed_country",
    "update_demo_exchange",
]
