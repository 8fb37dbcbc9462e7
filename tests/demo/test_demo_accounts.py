"""The demo's accounts: interesting people of the synthetic population and staff of
agencies at every level, deterministic for a seed, with credentials that work."""

from __future__ import annotations

from collections import Counter

from joinedup.core.db import Database
from joinedup.core.pagination import PageRequest
from joinedup.demo import organisation
from joinedup.demo.accounts import STAFF, WANTED
from joinedup.exchange import MemberLevel, get_member
from joinedup.identity import powers_given, staff_roles_of
from joinedup.identity.provider import provider_accounts
from joinedup.identity.provider.demo import demo_account_list, demo_credentials


def test_the_demo_has_interesting_people_and_staff_at_every_level(seeded: Database) -> None:
    with seeded.reading() as session:
        accounts = provider_accounts(session)
        tags = Counter(tag for account in accounts for tag in account.tags)
        for tag, count in WANTED:
            assert tags[tag] >= count, tag
        assert 25 <= len(accounts) <= 60
        levels = set()
        for account in accounts:
            for role in staff_roles_of(session, personal_code=account.personal_code):
                member = get_member(
                    session, member_class=role.member_class, member_code=role.member_code
                )
                levels.add(member.level)
        assert levels == {MemberLevel.NATIONAL, MemberLevel.REGIONAL, MemberLevel.LOCAL}
        assert sum(1 for a in accounts if "staff" in a.tags) == len(STAFF)
        given = [
            p
            for a in accounts
            for p in powers_given(session, grantor_code=a.personal_code, page=PageRequest()).items
        ]
        assert len(given) == 2
        assert {p.everything for p in given} == {True, False}
        listed = demo_account_list(session)
    assert len(listed) == len(accounts)
    assert organisation("digital-office").member_code in {
        r.member_code for a in accounts for r in staff_roles_of_list(seeded, a.personal_code)
    }


def staff_roles_of_list(database: Database, code: str) -> list:  # type: ignore[type-arg]
    with database.reading() as session:
        return list(staff_roles_of(session, personal_code=code))


def test_demo_credentials_are_deterministic_for_a_seed() -> None:
    one = demo_credentials(11, personal_code="38001085718", given_names="Mari Liis")
    assert one == demo_credentials(11, personal_code="38001085718", given_names="Mari Liis")
    assert one != demo_credentials(12, personal_code="38001085718", given_names="Mari Liis")
    assert one.username == "mari.38001085718"
    assert len(one.pin) == 4
    assert one.pin.isdigit()
