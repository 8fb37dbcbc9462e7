"""What the tests of the registries' bulk services (``relatives``, ``incomes``) share: where a
service is published, the benefits agency reading, and the refusals they are checked for."""

from __future__ import annotations

from typing import Any

import pytest

from joinedup.core.db import Database
from joinedup.core.errors import ValidationFailed
from joinedup.demo.agencies import organisation
from joinedup.exchange import LocalCallRefused, exchange_client

PURPOSE = "benefit-eligibility"


def registry_service(owner: str, subsystem: str, code: str) -> str:
    """The exchange identifier of the registry service ``code`` of ``owner``'s subsystem."""
    org = organisation(owner)
    return f"{org.member_class}/{org.member_code}/{subsystem}/{code}"


def benefits() -> str:
    """The Social Insurance Board's benefits subsystem, which reads for proactive benefits."""
    sib = organisation("social-insurance")
    return f"{sib.member_class}/{sib.member_code}/benefits"


def refused_status(database: Database, service: str, **call: Any) -> int:
    """The status of the exchange's refusal of the call (it must be refused)."""
    with (
        database.unit_of_work() as session,
        pytest.raises(LocalCallRefused) as refused,
        exchange_client(session, client=call.pop("client", benefits())) as calls,
    ):
        calls.call(service, purpose=call.pop("purpose", PURPOSE), **call)
    return refused.value.call_status


def fields_refused(
    database: Database, service: str, query: dict[str, str], **call: Any
) -> set[str]:
    """The fields named by the validation error the call gets (it must get one)."""
    with (
        database.unit_of_work() as session,
        pytest.raises(ValidationFailed) as refused,
        exchange_client(session, client=benefits()) as calls,
    ):
        calls.call(service, purpose=PURPOSE, query=query, **call)
    return {error["field"] for error in refused.value.extensions["errors"]}
