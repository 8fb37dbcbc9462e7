"""The embedded provider's signing key: EC P-256, ID tokens signed ES256.

ES256 rather than EdDSA because every OpenID Connect relying party library verifies it
(EdDSA support is still patchy), and the provider is meant to stand in for a national eID.
``JOINEDUP_IDP_SIGNING_KEY`` (PEM, PKCS#8) when set; otherwise, outside production, a key
generated once into ``<data_dir>/keys/idp-es256.pem`` (0600), so tokens stay verifiable
across restarts.
"""

from __future__ import annotations

import hashlib
from functools import lru_cache
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from joserfc.jwk import ECKey

from joinedup.core.keys import UnusableKey, load_or_create_pem
from joinedup.core.settings import Settings

IDP_KEY_FILE = "idp-es256.pem"
ALGORITHM = "ES256"


def _generate() -> bytes:
    return ec.generate_private_key(ec.SECP256R1()).private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )


def idp_key_path(settings: Settings) -> Path:
    return settings.data_dir / "keys" / IDP_KEY_FILE


@lru_cache(maxsize=8)
def _import(pem: bytes) -> ECKey:
    try:
        key = serialization.load_pem_private_key(pem, password=None)
    except (ValueError, TypeError) as exc:
        raise UnusableKey("JOINEDUP_IDP_SIGNING_KEY is not an unencrypted PEM key") from exc
    if not isinstance(key, ec.EllipticCurvePrivateKey) or key.curve.name != "secp256r1":
        raise UnusableKey("JOINEDUP_IDP_SIGNING_KEY is not an EC P-256 private key")
    public = key.public_key().public_bytes(
        serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint
    )
    kid = hashlib.sha256(public).hexdigest()[:16]
    return ECKey.import_key(pem, {"kid": kid, "use": "sig", "alg": ALGORITHM})


def provider_signing_key(settings: Settings) -> ECKey:
    """The key that signs the embedded provider's ID tokens (see the module docstring)."""
    if settings.idp_signing_key is not None:
        return _import(settings.idp_signing_key.get_secret_value().encode())
    if settings.is_production:
        raise UnusableKey("JOINEDUP_IDP_SIGNING_KEY is required in production")
    return _import(load_or_create_pem(idp_key_path(settings), _generate))


def provider_key_set(settings: Settings) -> dict[str, Any]:
    """The JWKS document: the public half of the signing key."""
    key = provider_signing_key(settings)
    public: dict[str, Any] = dict(key.as_dict(private=False))
    return {"keys": [public]}
