"""The embedded OpenID Connect provider: demo accounts and their means of authentication,
the protocol (on Authlib) and its signing key. It stands in for the national eID in the
embedded deployment and in tests; production runs it only when explicitly enabled
(``JOINEDUP_IDP_ENABLED=true``)."""

from joinedup.identity.provider.accounts import (
    MEANS,
    DemoCredentials,
    create_provider_account,
    provider_accounts,
)
from joinedup.identity.provider.flow import (
    PendingAuthorization,
    SignInFailed,
    begin_authorization,
    check_csrf,
    discovery_document,
    end_session,
    error_answer,
    minimum_level,
    pending_authorization,
    sign_in_with_card,
    sign_in_with_code,
    sign_in_with_password,
    token_response,
    userinfo,
)
from joinedup.identity.provider.keys import provider_key_set, provider_signing_key
from joinedup.identity.provider.server import (
    CALLBACK_PATH,
    SIGNED_OUT_PATH,
    ProviderRequest,
    builtin_client_secret,
    register_provider_client,
)

__all__ = [
    "CALLBACK_PATH",
    "MEANS",
    "SIGNED_OUT_PATH",
    "DemoCredentials",
    "PendingAuthorization",
    "ProviderRequest",
    "SignInFailed",
    "begin_authorization",
    "builtin_client_secret",
    "check_csrf",
    "create_provider_account",
    "discovery_document",
    "end_session",
    "error_answer",
    "minimum_level",
    "pending_authorization",
    "provider_accounts",
    "provider_key_set",
    "provider_signing_key",
    "register_provider_client",
    "sign_in_with_card",
    "sign_in_with_code",
    "sign_in_with_password",
    "token_response",
    "userinfo",
]
