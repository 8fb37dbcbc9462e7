"""The synthetic country's map: regions, their municipalities, streets, and how people spread
over them. The map is the same for every seed; the seed decides who lives where."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

COUNTRY_NAME = "Joinland"


@dataclass(frozen=True)
class MunicipalityPlan:
    code: str
    name: str
    region_code: str
    #: Share of the population (relative weight) and whether most homes are flats.
    weight: float
    urban: bool


#: (region code, region name, [(municipality name, weight, urban)]). The first municipality of
#: the first region is the capital.
_MAP: tuple[tuple[str, str, tuple[tuple[str, float, bool], ...]], ...] = (
    ("01", "Capital Region", (
        ("Port Aldren", 30.0, True), ("Eastwick", 4.0, True), ("Sandby", 2.5, False),
        ("Mill Harbour", 2.0, False), ("Ferncliff", 1.5, False), ("Ravensholm", 1.2, False),
    )),
    ("02", "Northmoor", (
        ("Kestrel Bay", 6.0, True), ("Highgate", 1.8, False), ("Lindholm", 1.2, False),
        ("Stonebridge", 1.0, False), ("Wolfden", 0.6, False),
    )),
    ("03", "Lakeland", (
        ("Meriton", 8.0, True), ("Elmstead", 1.6, False), ("Brightwater", 1.3, False),
        ("Reedham", 0.9, False), ("Swanmere", 0.7, False), ("Otterford", 0.5, False),
    )),
    ("04", "Westvale", (
        ("Harrowgate", 4.5, True), ("Ashby", 1.4, False), ("Cold Norton", 1.0, False),
        ("Thornbury", 0.8, False), ("Pebblecombe", 0.5, False),
    )),
    ("05", "Southfold", (
        ("Saltmarsh", 5.0, True), ("Oakhurst", 1.5, False), ("Birchfield", 1.1, False),
        ("Dunmore", 0.9, False), ("Hollowell", 0.6, False), ("Fenwick", 0.4, False),
    )),
    ("06", "Eastmark", (
        ("Varnhem", 3.5, True), ("Greyhaven", 1.2, False), ("Kingsmoor", 0.9, False),
        ("Larkspur", 0.6, False),
    )),
)  # fmt: skip

REGIONS: tuple[tuple[str, str], ...] = tuple((code, name) for code, name, _ in _MAP)

MUNICIPALITIES: tuple[MunicipalityPlan, ...] = tuple(
    MunicipalityPlan(f"{region}{i + 1:02d}", name, region, weight, urban)
    for region, _, towns in _MAP
    for i, (name, weight, urban) in enumerate(towns)
)

STREETS = (
    "Main Street", "Church Road", "Station Road", "Mill Lane", "School Street", "Harbour Road",
    "Park Avenue", "Market Square", "Birch Lane", "Linden Street", "Oak Avenue", "River Road",
    "Lake Street", "Meadow Way", "Forest Road", "Garden Street", "Castle Street", "Bridge Street",
    "North Street", "South Street", "Elm Row", "Maple Street", "Pine Street", "Chapel Lane",
    "Hill Road", "Green Street", "Sea Road", "Tower Street", "King Street", "Queen Street",
    "Spring Lane", "Willow Way", "Rose Street", "Orchard Lane", "Field Road", "Beacon Hill",
    "Stone Street", "Well Street", "Water Lane", "Cross Street",
)  # fmt: skip


def municipality_weights() -> npt.NDArray[np.float64]:
    weights = np.array([m.weight for m in MUNICIPALITIES], dtype=np.float64)
    shares: npt.NDArray[np.float64] = weights / weights.sum()
    return shares


@dataclass(frozen=True, kw_only=True)
class AddressDraft:
    municipality: npt.NDArray[np.int64]  # index into MUNICIPALITIES
    street: npt.NDArray[np.str_]
    house_number: npt.NDArray[np.str_]
    apartment: npt.NDArray[np.str_]
    postcode: npt.NDArray[np.str_]

    def municipality_codes(self) -> npt.NDArray[np.str_]:
        codes = np.array([m.code for m in MUNICIPALITIES])
        return codes[self.municipality]


def draw_addresses(rng: np.random.Generator, count: int, *, flats: bool = True) -> AddressDraft:
    """``count`` addresses spread over the country like its people (flats in towns)."""
    municipality = rng.choice(len(MUNICIPALITIES), size=count, p=municipality_weights())
    urban = np.array([m.urban for m in MUNICIPALITIES])[municipality]
    # Big towns have more streets: the street index range grows with the municipality's weight.
    street_span = np.maximum(
        4, (np.array([m.weight for m in MUNICIPALITIES]) * 1.3).astype(np.int64)
    )[municipality]
    street_span = np.minimum(street_span, len(STREETS))
    street_index = (rng.random(count) * street_span).astype(np.int64)
    house = np.where(urban, rng.integers(1, 120, count), rng.integers(1, 60, count))
    flat = urban & flats & (rng.random(count) < 0.75)
    apartment = np.where(flat, rng.integers(1, 90, count).astype(np.str_), "")
    region_digit = np.array([int(m.region_code) for m in MUNICIPALITIES])[municipality]
    within_region = np.array([int(m.code[2:]) for m in MUNICIPALITIES])[municipality]
    postcode = np.char.zfill(
        (region_digit * 10_000 + within_region * 100 + street_index).astype(np.str_), 5
    )
    return AddressDraft(
        municipality=municipality.astype(np.int64),
        street=np.asarray(STREETS)[street_index],
        house_number=house.astype(np.str_),
        apartment=apartment.astype(np.str_),
        postcode=postcode,
    )
