"""Demo accounts: a few dozen people of the synthetic population, chosen because they show
something (a parent of minors, a pensioner, a widow(er), a business representative, someone
newly married, a power of attorney given and received …), and staff of agencies at every
level. Their credentials are derived from the seed (``joinedup.identity.provider.demo``)
and listed on the embedded provider's sign-in page, so anyone can try the portal as them.

Chosen from the seed's own arrays (the people it just loaded), so the choice is deterministic
for a seed and a reference day, and needs no query of the registries' tables. Each account
carries *tags* saying why it was chosen; later work adds its own (``new-parent``,
``digital-post-exempt``) by tagging more people.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date

import numpy as np
from sqlalchemy.orm import Session

from joinedup import identity
from joinedup.core.clock import today
from joinedup.demo.agencies import ACTOR, organisation
from joinedup.demo.economy import Economy
from joinedup.demo.exchange_setup import portal_subsystem
from joinedup.demo.geography import MUNICIPALITIES, REGIONS
from joinedup.demo.population import ROLE_A, SINGLE_PARENT, Population
from joinedup.exchange import exchange_client
from joinedup.identity import StaffRoleName
from joinedup.identity.provider import create_provider_account, provider_accounts
from joinedup.identity.provider.demo import demo_credentials

Y = 365.25

#: (organisation key, role) of each demo staff member, by level: national, local, regional.
STAFF = (
    ("social-insurance", StaffRoleName.CASEWORKER),
    ("social-insurance", StaffRoleName.SUPERVISOR),
    ("social-insurance", StaffRoleName.ADMINISTRATOR),
    ("social-insurance", StaffRoleName.ANALYST),
    (f"municipality-{MUNICIPALITIES[0].code}", StaffRoleName.CASEWORKER),
    (f"municipality-{MUNICIPALITIES[0].code}", StaffRoleName.ADMINISTRATOR),
    (f"municipality-{MUNICIPALITIES[1].code}", StaffRoleName.CASEWORKER),
    (f"health-authority-{REGIONS[0][0]}", StaffRoleName.CASEWORKER),
    (f"health-authority-{REGIONS[0][0]}", StaffRoleName.ADMINISTRATOR),
    ("digital-office", StaffRoleName.ADMINISTRATOR),
    ("digital-office", StaffRoleName.ANALYST),
)

#: Why people are chosen, and how many of each.
WANTED = (
    ("parent-of-minor", 4),
    ("single-parent", 1),
    ("parent-of-adult", 1),
    ("pensioner", 3),
    ("widowed", 2),
    ("newly-married", 2),
    ("business-representative", 3),
    ("young-adult", 2),
)


@dataclass
class _Choice:
    index: int
    tags: list[str] = field(default_factory=list)
    staff: list[tuple[str, StaffRoleName]] = field(default_factory=list)


def _candidates(population: Population, economy: Economy, reference: date) -> dict[str, list[int]]:
    """People of each interesting kind, in population order (deterministic)."""
    ref = np.datetime64(reference, "D")
    alive = np.isnat(population.date_of_death)
    age = (ref - population.birth_date).astype(np.int64) / Y
    adult = alive & (age >= 18)
    parent_rows = population.rel_kind == "parent"
    parents, children = population.rel_person[parent_rows], population.rel_related[parent_rows]
    minor_child = alive[children] & (age[children] < 18)
    of_minor = np.unique(parents[minor_child])
    of_adult = np.setdiff1d(np.unique(parents[~minor_child & alive[children]]), of_minor)
    union = population.rel_kind != "parent"
    ended_by_death = union & (population.rel_reason == "death")
    widowed = np.unique(
        np.concatenate(
            [population.rel_person[ended_by_death], population.rel_related[ended_by_death]]
        )
    )
    recent = (
        union & np.isnat(population.rel_to) & (population.rel_from > ref - np.timedelta64(365, "D"))
    )
    married = np.unique(
        np.concatenate([population.rel_person[recent], population.rel_related[recent]])
    )
    single_parent = np.flatnonzero(
        (population.group_type[population.group] == SINGLE_PARENT) & (population.role == ROLE_A)
    )
    found = {
        "parent-of-minor": of_minor,
        "single-parent": single_parent,
        "parent-of-adult": of_adult,
        "pensioner": np.flatnonzero(alive & (age >= 66)),
        "widowed": widowed,
        "newly-married": married,
        "business-representative": np.unique(economy.rep_person),
        "young-adult": np.flatnonzero(alive & (age >= 18) & (age < 25)),
        "staff": np.flatnonzero(alive & (age >= 25) & (age < 63)),
    }
    return {k: [int(i) for i in v if adult[i]] for k, v in found.items()}


def choose_demo_people(population: Population, economy: Economy, reference: date) -> list[_Choice]:
    """The demo's people: a few of each kind (nobody twice), then the staff."""
    candidates = _candidates(population, economy, reference)
    chosen: dict[int, _Choice] = {}
    for tag, count in WANTED:
        taken = 0
        for index in candidates[tag]:
            if taken == count:
                break
            if index in chosen:
                continue
            chosen[index] = _Choice(index, [tag])
            taken += 1
    staff_pool = (i for i in candidates["staff"] if i not in chosen)
    for org_key, role in STAFF:
        member = next(staff_pool, None)
        if member is None:
            break
        chosen[member] = _Choice(member, ["staff"], [(org_key, role)])
    kinds = {tag: set(candidates[tag]) for tag, _count in WANTED}
    for choice in chosen.values():  # tag every reason that applies, not only the first
        choice.tags += [
            t for t, members in kinds.items() if t not in choice.tags and choice.index in members
        ]
    return list(chosen.values())


def create_demo_accounts(
    session: Session,
    *,
    population: Population,
    economy: Economy,
    reference: date,
    seed: int,
) -> int:
    """Create the demo's accounts, staff roles and powers of attorney, once (nothing when
    accounts exist already: a later seed run adds people, not accounts). Returns the number
    of accounts created."""
    if provider_accounts(session):
        return 0
    people = choose_demo_people(population, economy, reference)
    codes: dict[str, list[str]] = {}
    for choice in people:
        i = choice.index
        code = str(population.personal_code[i])
        given, family = str(population.given_names[i]), str(population.family_name[i])
        create_provider_account(
            session,
            personal_code=code,
            given_names=given,
            family_name=family,
            credentials=demo_credentials(seed, personal_code=code, given_names=given),
            description=", ".join(choice.tags),
            tags=choice.tags,
            light_hashing=True,
            demo_seed=seed,
            actor=ACTOR,
        )
        for org_key, role in choice.staff:
            org = organisation(org_key)
            identity.grant_staff_role(
                session,
                personal_code=code,
                member_class=str(org.member_class),
                member_code=org.member_code,
                role=role,
                actor=ACTOR,
            )
        for tag in choice.tags:
            codes.setdefault(tag, []).append(code)
    _powers_of_attorney(session, people, population, codes)
    return len(people)


def _powers_of_attorney(
    session: Session, people: list[_Choice], population: Population, codes: dict[str, list[str]]
) -> None:
    """A pensioner gives a young adult a power of attorney for everything; a widow(er) gives
    a business representative one for income and payment account data only."""
    pairs = [
        ("pensioner", "young-adult", True, []),
        ("widowed", "business-representative", False, ["income", "payment-account"]),
    ]
    names = {
        str(population.personal_code[c.index]): f"{population.given_names[c.index]} "
        f"{population.family_name[c.index]}"
        for c in people
    }
    for grantor_tag, grantee_tag, everything, categories in pairs:
        grantors = codes.get(grantor_tag, [])
        if not grantors:
            continue
        grantor = grantors[0]
        grantee = next((c for c in codes.get(grantee_tag, []) if c != grantor), None)
        if grantee is None:  # a tiny country may have nobody else of the kind
            continue
        with exchange_client(session, client=portal_subsystem(), user_id=grantor) as calls:
            identity.grant_power_of_attorney(
                session,
                grantor_code=grantor,
                grantor_name=names[grantor],
                grantee_code=grantee,
                everything=everything,
                services=[],
                data_categories=categories,
                valid_from=today(),
                valid_to=None,
                calls=calls,
                actor=ACTOR,
            )
