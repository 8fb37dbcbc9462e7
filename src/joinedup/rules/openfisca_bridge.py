"""The same synthetic population in OpenFisca (openfisca-core with openfisca-country-template),
for the differential tests and ``joinedup bench rules --compare-openfisca``.

OpenFisca is a development dependency (AGPL); it is imported only here, only when asked for.
The population is built with OpenFisca's vectorial builder (``SimulationBuilder``'s
``declare_person_entity`` / ``declare_entity`` / ``join_with_persons`` and ``set_input``),
its fastest documented way to build a large simulation.
"""

from __future__ import annotations

import functools
from typing import Any

import numpy as np

from joinedup.rules.periods import Period
from joinedup.rules.synthetic import STATUSES, SyntheticPopulation


class OpenFiscaUnavailable(RuntimeError):
    """openfisca-core / openfisca-country-template are not installed (a dev dependency)."""


@functools.cache
def tax_benefit_system() -> Any:
    try:
        from openfisca_country_template import CountryTaxBenefitSystem
    except ImportError as exc:  # pragma: no cover - dev dependency present in CI
        raise OpenFiscaUnavailable(
            "OpenFisca is not installed: install the development dependencies "
            "(uv sync --group dev) to compare with it."
        ) from exc
    return CountryTaxBenefitSystem()


def build_simulation(synthetic: SyntheticPopulation, months: list[Period]) -> Any:
    """An OpenFisca simulation of ``synthetic`` with the monthly inputs set for ``months``."""
    from openfisca_core.simulations import SimulationBuilder

    system = tax_benefit_system()
    builder = SimulationBuilder()
    builder.create_entities(system)
    builder.declare_person_entity("person", synthetic.person_ids)
    households = builder.declare_entity("household", synthetic.household_ids)
    roles = np.where(synthetic.person_role == 0, "adult", "child")
    builder.join_with_persons(households, synthetic.person_household, roles)
    simulation = builder.build(system)
    simulation.set_input("birth", "ETERNITY", synthetic.birth)
    statuses = np.asarray(STATUSES)[synthetic.housing_occupancy_status]
    for month in months:
        key = str(month)
        simulation.set_input("salary", key, synthetic.salary / 100)
        simulation.set_input("capital_returns", key, synthetic.capital_returns / 100)
        simulation.set_input("rent", key, synthetic.rent / 100)
        simulation.set_input("accommodation_size", key, synthetic.accommodation_size)
        simulation.set_input("housing_occupancy_status", key, statuses)
    return simulation


def calculate(simulation: Any, name: str, period: Period) -> Any:
    """OpenFisca's values of ``name`` (enum values as their index)."""
    values = simulation.calculate(name, str(period))
    return np.asarray(values)
