"""A coherent synthetic population, drawn in whole arrays (numpy) from one seeded generator.

People come in *groups* that are generated, and later loaded, together:

==================  ==============================================================
couple with kids    two parents (often married) and 1–4 children born in the last 20 years
single parent       one parent and 1–3 children; for half of them the other parent lives
                    alone elsewhere (and was married to them and divorced, half the time)
couple              two adults, young or old, often married
single              one adult of working age living alone
elderly             one person over 65 living alone, widowed (spouse dead) 60% of the time
deceased            one person who died in the last ten years
==================  ==============================================================

Each group has a home (a *dwelling*: a household with an address), and the other parent of a
single-parent group has a second one. Dates are counted back from a reference day, so the
country is always current and deterministic for a seed and that day.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

import numpy as np
import numpy.typing as npt

from joinedup.demo.geography import (
    MUNICIPALITIES,
    AddressDraft,
    draw_addresses,
    municipality_weights,
)
from joinedup.demo.names import FAMILY, FEMALE_GIVEN, FOREIGN_BIRTHPLACES, MALE_GIVEN
from joinedup.registries import NATIONAL_COUNTRY, issue_personal_codes, personal_code_prefixes

COUPLE_KIDS, SINGLE_PARENT, COUPLE, SINGLE, ELDERLY, DECEASED = range(6)
GROUP_SHARES = np.array([0.22, 0.07, 0.22, 0.22, 0.14, 0.03])
ROLE_A, ROLE_B, ROLE_CHILD, ROLE_EX, ROLE_WIDOW = range(5)  # ROLE_WIDOW: the deceased spouse

Y = 365.25
#: Days after birth by which everybody is 18 whatever the leap days.
ADULT_DAYS = 6576
NaT = np.datetime64("NaT", "D")

Ints = npt.NDArray[np.int64]
Dates = npt.NDArray[np.datetime64]
Texts = npt.NDArray[np.str_]
Flags = npt.NDArray[np.bool_]


@dataclass(frozen=True, kw_only=True)
class Population:
    """Everybody, group after group (``group_start[g]`` is the first person of group ``g``)."""

    group_start: Ints  # one more entry than groups: the end
    group_type: Ints
    # per person
    group: Ints
    role: Ints
    personal_code: Texts
    given_names: Texts
    family_name: Texts
    birth_family_name: Texts
    name_changed_on: Dates
    birth_date: Dates
    birth_place: Texts
    sex: Texts
    citizenship: Texts
    date_of_death: Dates
    dwelling: Ints  # index into ``addresses``
    resident_since: Dates
    # relations, sorted by their first person
    rel_kind: Texts
    rel_person: Ints
    rel_related: Ints
    rel_from: Dates
    rel_to: Dates
    rel_reason: Texts
    addresses: AddressDraft
    serial_ranks: int

    @property
    def persons(self) -> int:
        return int(self.group.shape[0])

    @property
    def groups(self) -> int:
        return int(self.group_type.shape[0])


def _days(rng: np.random.Generator, low: npt.ArrayLike, high: npt.ArrayLike) -> Ints:
    """Whole days uniformly in ``[low, high]`` (years given as days)."""
    lo = np.asarray(low, dtype=np.float64)
    hi = np.maximum(np.asarray(high, dtype=np.float64), lo)
    return (lo + rng.random(np.broadcast(lo, hi).shape) * (hi - lo)).astype(np.int64)


def _draw_groups(rng: np.random.Generator, persons: int) -> tuple[Ints, Ints, Flags, Flags, Flags]:
    """Group types, numbers of children, ex-partner and widowhood flags, summing to ``persons``."""
    estimate = int(persons / 2.1) + 16
    kind = rng.choice(6, size=estimate, p=GROUP_SHARES / GROUP_SHARES.sum())
    kids = np.where(
        kind == COUPLE_KIDS,
        rng.choice([1, 2, 3, 4], size=estimate, p=[0.4, 0.4, 0.15, 0.05]),
        np.where(
            kind == SINGLE_PARENT, rng.choice([1, 2, 3], size=estimate, p=[0.55, 0.35, 0.10]), 0
        ),
    )
    ex = (kind == SINGLE_PARENT) & (rng.random(estimate) < 0.5)
    widowed = (kind == ELDERLY) & (rng.random(estimate) < 0.6)
    has_b = (kind == COUPLE_KIDS) | (kind == COUPLE)
    size = 1 + has_b + kids + ex + widowed
    keep = int(np.searchsorted(np.cumsum(size), persons, side="right"))
    filler = persons - int(size[:keep].sum())  # topped up with people living alone
    kind = np.concatenate([kind[:keep], np.full(filler, SINGLE)])
    kids = np.concatenate([kids[:keep], np.zeros(filler, dtype=np.int64)])
    ex = np.concatenate([ex[:keep], np.zeros(filler, dtype=np.bool_)])
    widowed = np.concatenate([widowed[:keep], np.zeros(filler, dtype=np.bool_)])
    has_b = (kind == COUPLE_KIDS) | (kind == COUPLE)
    return kind.astype(np.int64), kids.astype(np.int64), ex, widowed, has_b


def generate_population(
    rng: np.random.Generator, *, persons: int, reference: date, first_serial_rank: int = 0
) -> Population:
    """Draw ``persons`` people living on ``reference`` (and some who died before it)."""
    ref = np.datetime64(reference, "D")
    kind, kids, ex, widowed, has_b = _draw_groups(rng, persons)
    groups = kind.shape[0]
    size = 1 + has_b + kids + ex + widowed
    start = np.concatenate([[0], np.cumsum(size)]).astype(np.int64)
    group = np.repeat(np.arange(groups), size)
    pos = np.arange(persons) - start[group]
    off_c = 1 + has_b[group]
    role = np.select(
        [
            pos == 0,
            has_b[group] & (pos == 1),
            pos < off_c + kids[group],
            ex[group] & (pos == off_c + kids[group]),
        ],
        [ROLE_A, ROLE_B, ROLE_CHILD, ROLE_EX],
        ROLE_WIDOW,
    ).astype(np.int64)

    # --- ages (days before the reference day) and deaths ------------------------------------
    # Age of the eldest child: under 20 mostly, a young adult still at home sometimes.
    eldest = np.where(
        rng.random(groups) < 0.85,
        _days(rng, np.zeros(groups), 19.99 * Y),
        _days(rng, np.full(groups, 20 * Y), 26 * Y),
    )
    # Siblings are born at least ~a year apart, so the eldest of several is old enough.
    eldest = np.maximum(eldest, (kids - 1) * 1.2 * Y + _days(rng, np.zeros(groups), Y)).astype(
        np.int64
    )
    age_a = np.select(
        [kind <= SINGLE_PARENT, kind == COUPLE, kind == SINGLE, kind == ELDERLY],
        [
            eldest + _days(rng, np.full(groups, 20 * Y), 40 * Y),
            np.where(
                rng.random(groups) < 0.5,
                _days(rng, np.full(groups, 22 * Y), 64 * Y),
                _days(rng, np.full(groups, 55 * Y), 90 * Y),
            ),
            _days(rng, np.full(groups, 18.5 * Y), 64 * Y),
            (65 * Y + 35 * Y * np.asarray(rng.beta(1.3, 2.6, groups))).astype(np.int64),
        ],
        _days(rng, np.full(groups, 45 * Y), 100 * Y),
    )
    partner_gap = np.clip(rng.normal(0, 3 * Y, groups), -8 * Y, 8 * Y).astype(np.int64)
    # Partners are of similar age; one who would be too young is drawn just above the limit.
    floor_b = np.where(kind <= SINGLE_PARENT, eldest + ADULT_DAYS + 400, 20 * Y)
    floor_b = floor_b + _days(rng, np.zeros(groups), 3 * Y)
    age_b = np.where(age_a + partner_gap < floor_b, floor_b, age_a + partner_gap).astype(np.int64)
    widow_died = _days(rng, np.full(groups, 0.2 * Y), 15 * Y)  # days since the spouse died
    age_widow = np.maximum(
        age_a + partner_gap, widow_died + _days(rng, np.full(groups, 40 * Y), 45 * Y)
    )
    age_widow = np.where(
        age_widow > 104 * Y, _days(rng, np.full(groups, 96 * Y), 104 * Y), age_widow
    )
    deceased_died = _days(rng, np.full(groups, 0.1 * Y), 10 * Y)

    age = np.zeros(persons, dtype=np.int64)
    age[role == ROLE_A] = age_a
    is_b, is_x, is_w = role == ROLE_B, role == ROLE_EX, role == ROLE_WIDOW
    age[is_b] = age_b[group[is_b]]
    age[is_x] = age_b[group[is_x]]
    age[is_w] = age_widow[group[is_w]]
    child = role == ROLE_CHILD
    first_child = child & (pos == off_c)
    # Younger siblings are born 11 months to eight years after the eldest.
    sibling_gap = _days(
        rng, np.full(int(child.sum()), 0.9 * Y), np.minimum(eldest[group[child]], 8 * Y)
    )
    age[child] = eldest[group[child]] - sibling_gap
    age[first_child] = eldest[group[first_child]]
    birth = ref - age.astype("timedelta64[D]")
    death = np.full(persons, NaT)
    death[is_w] = ref - widow_died[group[is_w]].astype("timedelta64[D]")
    dead_single = (role == ROLE_A) & (kind[group] == DECEASED)
    death[dead_single] = ref - deceased_died[group[dead_single]].astype("timedelta64[D]")

    # --- sexes -----------------------------------------------------------------------------
    same_sex = (kind == COUPLE) & (rng.random(groups) < 0.03)
    female_a = np.select(
        [kind == COUPLE_KIDS, kind == SINGLE_PARENT, kind == ELDERLY],
        [np.ones(groups, dtype=np.bool_), rng.random(groups) < 0.85, rng.random(groups) < 0.62],
        rng.random(groups) < 0.5,
    )
    female = np.zeros(persons, dtype=np.bool_)
    female[role == ROLE_A] = female_a
    others = is_b | is_x | is_w
    female[others] = ~female_a[group[others]] ^ (is_b[others] & same_sex[group[others]])
    female[child] = rng.random(int(child.sum())) < 0.49
    sex = np.where(female, "F", "M")

    # --- unions ----------------------------------------------------------------------------
    a_index = start[:-1]
    b_index = a_index + 1
    x_index = a_index + 1 + kids  # single parents have no B
    w_index = a_index + 1  # the elderly have no B, no children
    birth_a, birth_b = birth[a_index], birth[np.minimum(b_index, persons - 1)]
    u = rng.random(groups)
    couple = (kind == COUPLE_KIDS) | (kind == COUPLE)
    married = couple & (u < 0.62)
    partnered = couple & (u >= 0.62) & (u < 0.67)
    union_low = np.maximum(birth_a, birth_b) + np.timedelta64(ADULT_DAYS + 365, "D")
    span = (ref - union_low).astype(np.int64)
    married_on = union_low + (rng.random(groups) * np.maximum(span, 0)).astype("timedelta64[D]")
    married &= span > 1
    partnered &= span > 1
    divorced = ex & (rng.random(groups) < 0.5)
    birth_x = birth[np.minimum(x_index, persons - 1)]
    x_low = np.maximum(birth_a, birth_x) + np.timedelta64(ADULT_DAYS + 365, "D")
    x_span = (ref - x_low).astype(np.int64)
    x_married_on = x_low + (rng.random(groups) * np.maximum(x_span, 0) * 0.5).astype(
        "timedelta64[D]"
    )
    x_divorced_on = x_married_on + (
        1 + rng.random(groups) * np.maximum((ref - x_married_on).astype(np.int64) - 1, 0)
    ).astype("timedelta64[D]")
    divorced &= x_span > 4
    widow_death = ref - widow_died.astype("timedelta64[D]")
    birth_w = birth[np.minimum(w_index, persons - 1)]
    w_low = np.maximum(birth_a, birth_w) + np.timedelta64(ADULT_DAYS + 365, "D")
    w_span = np.minimum((widow_death - w_low).astype(np.int64) - 1, int(30 * Y))
    w_married_on = w_low + (rng.random(groups) * np.maximum(w_span, 0)).astype("timedelta64[D]")

    # --- names -----------------------------------------------------------------------------
    family_g = np.asarray(rng.integers(0, len(FAMILY), groups), dtype=np.int64)
    family_list = np.asarray(FAMILY)
    family_index = family_g[group].copy()
    took_name = rng.random(groups) < 0.7
    a_took = (married & took_name) | (widowed & took_name)
    own_name = (role == ROLE_EX) | ((role == ROLE_A) & couple[group] & ~a_took[group])
    family_index[own_name] = rng.integers(0, len(FAMILY), int(own_name.sum()))
    change_a = a_index[a_took]
    birth_family = np.full(persons, "", dtype=family_list.dtype)
    birth_family[change_a] = family_list[
        (family_g[a_took] + 1 + rng.integers(0, len(FAMILY) - 1, int(a_took.sum()))) % len(FAMILY)
    ]
    name_changed = np.full(persons, NaT)
    name_changed[change_a] = np.where(married[a_took], married_on[a_took], w_married_on[a_took])
    given = np.where(
        female,
        np.asarray(FEMALE_GIVEN)[rng.integers(0, len(FEMALE_GIVEN), persons)],
        np.asarray(MALE_GIVEN)[rng.integers(0, len(MALE_GIVEN), persons)],
    )

    # --- homes and residence ---------------------------------------------------------------
    ex_groups = np.flatnonzero(ex)
    addresses = draw_addresses(rng, groups + ex_groups.shape[0])
    dwelling = group.copy()
    ex_dwelling = np.full(groups, -1, dtype=np.int64)
    ex_dwelling[ex_groups] = groups + np.arange(ex_groups.shape[0])
    dwelling[is_x] = ex_dwelling[group[is_x]]
    adults_low = np.where(has_b, np.maximum(birth_a, birth_b), birth_a) + np.timedelta64(
        ADULT_DAYS, "D"
    )
    moved_in = np.maximum(
        ref - _days(rng, np.full(groups, 0.3 * Y), 25 * Y).astype("timedelta64[D]"), adults_low
    )
    last_alive = np.where(
        widowed,
        widow_death,
        np.where(kind == DECEASED, ref - deceased_died.astype("timedelta64[D]"), ref + 1),
    )
    moved_in = np.minimum(moved_in, last_alive - np.timedelta64(30, "D"))
    moved_in = np.maximum(moved_in, birth_a + 1)  # a late widowhood never precedes the birth
    resident_since = moved_in[group].copy()
    resident_since[child] = np.maximum(moved_in[group[child]], birth[child])
    x_moved = np.maximum(
        ref - _days(rng, np.full(int(is_x.sum()), 0.1 * Y), 10 * Y).astype("timedelta64[D]"),
        birth[is_x] + np.timedelta64(ADULT_DAYS, "D"),
    )
    resident_since[is_x] = np.minimum(x_moved, ref)

    # --- birthplaces and citizenship -------------------------------------------------------
    town_names = np.array([m.name for m in MUNICIPALITIES])
    home_town = town_names[addresses.municipality[dwelling]]
    born_here = rng.choice(len(MUNICIPALITIES), size=persons, p=municipality_weights())
    birth_place = np.where(child & (birth >= moved_in[group]), home_town, town_names[born_here])
    immigrant = ~child & (rng.random(persons) < 0.08)
    abroad = rng.integers(0, len(FOREIGN_BIRTHPLACES), persons)
    foreign_places = np.array([p for p, _ in FOREIGN_BIRTHPLACES])
    foreign_codes = np.array([c for _, c in FOREIGN_BIRTHPLACES])
    birth_place = np.where(immigrant, foreign_places[abroad], birth_place)
    citizenship = np.where(
        immigrant & (rng.random(persons) < 0.6), foreign_codes[abroad], NATIONAL_COUNTRY
    )

    # --- personal codes: rank among people of the same birth date and sex ------------------
    prefix = personal_code_prefixes(birth, sex)
    order = np.argsort(prefix, kind="stable")
    sorted_prefix = prefix[order]
    starts = np.concatenate([[True], sorted_prefix[1:] != sorted_prefix[:-1]])
    group_first = np.maximum.accumulate(np.where(starts, np.arange(persons), 0))
    rank = np.empty(persons, dtype=np.int64)
    rank[order] = np.arange(persons) - group_first
    serial_ranks = int(rank.max()) + 1 if persons else 0
    codes = issue_personal_codes(birth, sex, rank + first_serial_rank, from_top=True)

    # --- relations -------------------------------------------------------------------------
    parent_of_child = a_index[group[child]]
    kid_rows = np.flatnonzero(child)
    b_parent = has_b[group[child]]
    x_parent = ex[group[child]]
    rel_person = np.concatenate(
        [parent_of_child, b_index[group[kid_rows[b_parent]]], x_index[group[kid_rows[x_parent]]]]
    )
    rel_related = np.concatenate([kid_rows, kid_rows[b_parent], kid_rows[x_parent]])
    rel_from = birth[rel_related]
    n_parent = rel_person.shape[0]
    union_groups = [
        np.flatnonzero(married),
        np.flatnonzero(partnered),
        np.flatnonzero(divorced),
        np.flatnonzero(widowed),
    ]
    rel_kind = np.concatenate([
        np.full(n_parent, "parent"), np.full(union_groups[0].shape[0], "spouse"),
        np.full(union_groups[1].shape[0], "partner"), np.full(union_groups[2].shape[0], "spouse"),
        np.full(union_groups[3].shape[0], "spouse"),
    ])  # fmt: skip
    rel_person = np.concatenate(
        [
            rel_person,
            a_index[union_groups[0]],
            a_index[union_groups[1]],
            a_index[union_groups[2]],
            a_index[union_groups[3]],
        ]
    )
    rel_related = np.concatenate(
        [
            rel_related,
            b_index[union_groups[0]],
            b_index[union_groups[1]],
            x_index[union_groups[2]],
            w_index[union_groups[3]],
        ]
    )
    rel_from = np.concatenate(
        [
            rel_from,
            married_on[union_groups[0]],
            married_on[union_groups[1]],
            x_married_on[union_groups[2]],
            w_married_on[union_groups[3]],
        ]
    )
    rel_to = np.concatenate(
        [
            np.full(n_parent + union_groups[0].shape[0] + union_groups[1].shape[0], NaT),
            x_divorced_on[union_groups[2]],
            widow_death[union_groups[3]],
        ]
    )
    rel_reason = np.concatenate([
        np.full(n_parent + union_groups[0].shape[0] + union_groups[1].shape[0], ""),
        np.full(union_groups[2].shape[0], "divorce"), np.full(union_groups[3].shape[0], "death"),
    ])  # fmt: skip
    by_person = np.argsort(np.minimum(rel_person, rel_related), kind="stable")

    return Population(
        group_start=start,
        group_type=kind,
        group=group,
        role=role,
        personal_code=codes,
        given_names=given,
        family_name=family_list[family_index],
        birth_family_name=birth_family,
        name_changed_on=name_changed,
        birth_date=birth,
        birth_place=birth_place,
        sex=sex,
        citizenship=citizenship,
        date_of_death=death,
        dwelling=dwelling,
        resident_since=resident_since,
        rel_kind=rel_kind[by_person],
        rel_person=rel_person[by_person],
        rel_related=rel_related[by_person],
        rel_from=rel_from[by_person],
        rel_to=rel_to[by_person],
        rel_reason=rel_reason[by_person],
        addresses=addresses,
        serial_ranks=serial_ranks,
    )
