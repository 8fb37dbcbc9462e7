"""The data exchange (X-Road compatible). So far: the member directory.

Public names other contexts may use: the use cases below, the read models and the events.
"""

from joinedup.exchange.events import MemberRegistered, SubsystemRegistered
from joinedup.exchange.schemas import MemberClass, MemberLevel, MemberRecord, SubsystemRecord
from joinedup.exchange.service import (
    count_members,
    get_member,
    get_subsystem,
    list_members,
    list_subsystems,
    register_member,
    register_subsystem,
)

__all__ = [
    "MemberClass",
    "MemberLevel",
    "MemberRecord",
    "MemberRegistered",
    "SubsystemRecord",
    "SubsystemRegistered",
    "count_members",
    "get_member",
    "get_subsystem",
    "list_members",
    "list_subsystems",
    "register_member",
    "register_subsystem",
]
