"""The data exchange (X-Road compatible): the member directory, services, access rights, API
clients, and the mediation path's identities and decisions.

Public names other contexts may use: the use cases below, the read models and the events.
"""

from joinedup.exchange.access import (
    AccessDenied,
    Authorization,
    ClientIdentity,
    ProviderResponse,
    ServiceDescriptor,
    authorize,
    resolve_service,
)
from joinedup.exchange.events import (
    AccessRightGranted,
    AccessRightRevoked,
    AdministratorAppointed,
    ApiClientRegistered,
    ApiClientRevoked,
    MemberRegistered,
    ServicePublished,
    SubsystemRegistered,
)
from joinedup.exchange.guards import is_administrator
from joinedup.exchange.local import ExchangeClient, LocalAnswer, LocalCallRefused
from joinedup.exchange.local_clients import (
    exchange_client,
    local_client_identity,
    reading_client,
    write_read_records,
    write_records_now,
)
from joinedup.exchange.oauth import (
    AccessToken,
    OAuthError,
    authenticate_client,
    issue_access_token,
    json_web_key_set,
)
from joinedup.exchange.outbound import (
    ProviderTransport,
    ProviderUnreachable,
    Sent,
    ServiceReply,
    make_sent_records_ahead,
    mount_local_system,
    provider_transport,
    send_to_service,
    send_unrecorded,
    write_sent_records,
)
from joinedup.exchange.person_codes import personal_codes
from joinedup.exchange.reads_ahead import KeepsReads, Reads, ReadsAhead
from joinedup.exchange.recorder import Recorder, Recording, recorder_of
from joinedup.exchange.registry_bulk import (
    INCOMES,
    MAX_REFERENCES,
    PERSON_CODES,
    PERSON_REFS,
    RELATIVES,
    extract_answer,
)
from joinedup.exchange.registry_services import (
    REGISTRY_SERVICES,
    RegistryService,
    call_registry_service,
)
from joinedup.exchange.registry_writes import CIVIL_REGISTRATION, WRITE_SERVICES, WriteService
from joinedup.exchange.schemas import (
    AccessRightRecord,
    ApiClientRecord,
    MemberClass,
    MemberLevel,
    MemberRecord,
    NewApiClient,
    PurposeGrant,
    PurposeRecord,
    ServiceKind,
    ServiceRecord,
    ServiceRef,
    SubsystemRecord,
    SubsystemRef,
)
from joinedup.exchange.service import *  # noqa: F403 (the use cases are the public names)
from joinedup.exchange.service import __all__ as _service_names
from joinedup.exchange.usage import Receiver, UsageItem, record_staff_view
from joinedup.exchange.usage_queries import (
    UsageVerification,
    get_usage,
    list_usage,
    usage_receivers,
    verify_usage,
)
from joinedup.exchange.write_services import REPLAY_HEADER, WriteAnswer, run_write

__all__ = [
    "CIVIL_REGISTRATION",
    "INCOMES",
    "MAX_REFERENCES",
    "PERSON_CODES",
    "personal_codes",
    "RELATIVES",
    "PERSON_REFS",
    "REGISTRY_SERVICES",
    "REPLAY_HEADER",
    "WRITE_SERVICES",
    "AccessDenied",
    "AccessRightGranted",
    "AccessRightRecord",
    "AccessRightRevoked",
    "AccessToken",
    "AdministratorAppointed",
    "ApiClientRecord",
    "ApiClientRegistered",
    "ApiClientRevoked",
    "Authorization",
    "ClientIdentity",
    "ExchangeClient",
    "Recording",
    "Recorder",
    "extract_answer",
    "recorder_of",
    "LocalAnswer",
    "LocalCallRefused",
    "MemberClass",
    "MemberLevel",
    "MemberRecord",
    "MemberRegistered",
    "NewApiClient",
    "OAuthError",
    "ProviderResponse",
    "ProviderTransport",
    "ProviderUnreachable",
    "Receiver",
    "PurposeGrant",
    "PurposeRecord",
    "RegistryService",
    "ServiceDescriptor",
    "ServiceKind",
    "ServicePublished",
    "ServiceRecord",
    "ServiceRef",
    "Sent",
    "ServiceReply",
    "SubsystemRecord",
    "SubsystemRef",
    "SubsystemRegistered",
    "UsageItem",
    "UsageVerification",
    "WriteAnswer",
    "WriteService",
    "authenticate_client",
    "authorize",
    "call_registry_service",
    "exchange_client",
    "get_usage",
    "is_administrator",
    "issue_access_token",
    "json_web_key_set",
    "list_usage",
    "local_client_identity",
    "reading_client",
    "KeepsReads",
    "Reads",
    "ReadsAhead",
    "mount_local_system",
    "provider_transport",
    "record_staff_view",
    "resolve_service",
    "run_write",
    "send_to_service",
    "make_sent_records_ahead",
    "send_unrecorded",
    "write_read_records",
    "write_records_now",
    "write_sent_records",
    "usage_receivers",
    "verify_usage",
    *_service_names,
]
