"""The exchange's use cases, one module per topic; everything public is re-exported here."""

from joinedup.exchange.service.clients import (
    LOCKOUT,
    MAX_FAILED_SIGN_INS,
    appoint_administrator,
    check_client_credentials,
    get_api_client,
    hash_secret,
    list_api_clients,
    register_api_client,
    revoke_api_client,
)
from joinedup.exchange.service.keys import (
    create_member_keys,
    member_signing_key,
    token_signing_key,
)
from joinedup.exchange.service.members import (
    count_members,
    get_member,
    get_subsystem,
    list_members,
    list_subsystems,
    member_names,
    register_member,
    register_subsystem,
)
from joinedup.exchange.service.purposes import (
    describe_purpose,
    get_purpose,
    list_purposes,
    purpose_names,
)
from joinedup.exchange.service.rights import (
    get_access_right,
    grant_access_right,
    list_access_rights,
    revoke_access_right,
)
from joinedup.exchange.service.services import (
    RESERVED_CODES,
    get_service,
    list_services,
    parse_openapi,
    publish_registry_services,
    register_rest_service,
    registry_service_ref,
    service_openapi,
)

__all__ = [
    "LOCKOUT",
    "MAX_FAILED_SIGN_INS",
    "RESERVED_CODES",
    "appoint_administrator",
    "check_client_credentials",
    "count_members",
    "create_member_keys",
    "describe_purpose",
    "get_access_right",
    "get_api_client",
    "get_member",
    "get_purpose",
    "get_service",
    "get_subsystem",
    "grant_access_right",
    "hash_secret",
    "list_access_rights",
    "list_api_clients",
    "list_members",
    "list_purposes",
    "list_services",
    "list_subsystems",
    "member_names",
    "member_signing_key",
    "parse_openapi",
    "publish_registry_services",
    "purpose_names",
    "register_api_client",
    "register_member",
    "register_rest_service",
    "register_subsystem",
    "registry_service_ref",
    "revoke_access_right",
    "revoke_api_client",
    "service_openapi",
    "token_signing_key",
]
