"""Ed25519 signing keys: the transparency log's tree heads today, members' records later.

A :class:`SigningKey` holds a private key and signs bytes; its :class:`VerifyingKey` checks
signatures and is what gets published (PEM, SubjectPublicKeyInfo). A key is named by its
*key id*: the hex SHA-256 of the raw 32-byte public key, first 16 bytes.

The log's key comes from ``JOINEDUP_LOG_SIGNING_KEY`` (PEM, PKCS#8). Outside production, when
that is unset, a key is generated once and kept at ``<data_dir>/keys/log-ed25519.pem`` (0600),
so tree heads stay verifiable across restarts of the embedded deployment.
"""

from __future__ import annotations

import hashlib
import os
import secrets
from collections.abc import Callable
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

if TYPE_CHECKING:
    from joinedup.core.settings import Settings

LOG_KEY_FILE = "log-ed25519.pem"
SIGNATURE_SIZE = 64


class UnusableKey(ValueError):
    """A key that cannot be used: not PEM, not Ed25519, or missing where it is required."""


def key_id_of(raw_public_key: bytes) -> str:
    """The key id of a raw Ed25519 public key: hex SHA-256, first 16 bytes (32 characters)."""
    return hashlib.sha256(raw_public_key).digest()[:16].hex()


class VerifyingKey:
    """An Ed25519 public key: checks signatures."""

    __slots__ = ("_key", "key_id", "raw")

    def __init__(self, key: Ed25519PublicKey) -> None:
        self._key = key
        self.raw = key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
        self.key_id = key_id_of(self.raw)

    @classmethod
    def from_pem(cls, pem: bytes | str) -> VerifyingKey:
        data = pem.encode() if isinstance(pem, str) else pem
        try:
            key = serialization.load_pem_public_key(data)
        except ValueError as exc:
            raise UnusableKey("not a PEM public key (SubjectPublicKeyInfo)") from exc
        if not isinstance(key, Ed25519PublicKey):
            raise UnusableKey(f"not an Ed25519 public key but {type(key).__name__}")
        return cls(key)

    @classmethod
    def from_raw(cls, raw: bytes) -> VerifyingKey:
        try:
            return cls(Ed25519PublicKey.from_public_bytes(raw))
        except ValueError as exc:
            raise UnusableKey("not a raw 32-byte Ed25519 public key") from exc

    def verify(self, signature: bytes, data: bytes) -> bool:
        """Whether ``signature`` is this key's signature of ``data``."""
        try:
            self._key.verify(signature, data)
        except InvalidSignature:
            return False
        return True

    def to_pem(self) -> str:
        return self._key.public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        ).decode()

    def __eq__(self, other: object) -> bool:
        return isinstance(other, VerifyingKey) and other.raw == self.raw

    def __hash__(self) -> int:
        return hash(self.raw)

    def __repr__(self) -> str:
        return f"VerifyingKey(key_id={self.key_id!r})"


class SigningKey:
    """An Ed25519 private key: signs bytes. Its ``repr`` never shows the secret."""

    __slots__ = ("_key", "verifying_key")

    def __init__(self, key: Ed25519PrivateKey) -> None:
        self._key = key
        self.verifying_key = VerifyingKey(key.public_key())

    @classmethod
    def generate(cls) -> SigningKey:
        return cls(Ed25519PrivateKey.generate())

    @classmethod
    def from_pem(cls, pem: bytes | str) -> SigningKey:
        data = pem.encode() if isinstance(pem, str) else pem
        try:
            key = serialization.load_pem_private_key(data, password=None)
        except (ValueError, TypeError) as exc:
            raise UnusableKey("not an unencrypted PEM private key (PKCS#8)") from exc
        if not isinstance(key, Ed25519PrivateKey):
            raise UnusableKey(f"not an Ed25519 private key but {type(key).__name__}")
        return cls(key)

    @property
    def key_id(self) -> str:
        return self.verifying_key.key_id

    def sign(self, data: bytes) -> bytes:
        """The 64-byte Ed25519 signature of ``data``."""
        return self._key.sign(data)

    def verify(self, signature: bytes, data: bytes) -> bool:
        return self.verifying_key.verify(signature, data)

    def public_pem(self) -> str:
        return self.verifying_key.to_pem()

    def to_pem(self) -> bytes:
        """The private key as unencrypted PKCS#8 PEM (for files with mode 0600 only)."""
        return self._key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )

    def __repr__(self) -> str:
        return f"SigningKey(key_id={self.key_id!r})"


def load_or_create_pem(path: Path, generate: Callable[[], bytes]) -> bytes:
    """The PEM kept in ``path``; ``generate()``'s PEM written there (mode 0600) if the file
    does not exist.

    Two processes starting together agree on one key: the file is created exclusively, and
    the loser of the race reads the winner's file.
    """
    try:
        return path.read_bytes()
    except FileNotFoundError:
        pass
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    pem = generate()
    temporary = path.with_name(f".{path.name}.{secrets.token_hex(8)}.tmp")
    fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(pem)
            handle.flush()
            os.fsync(handle.fileno())
        try:
            os.link(temporary, path)  # fails if another process created the file meanwhile
        except FileExistsError:
            return path.read_bytes()
    finally:
        temporary.unlink(missing_ok=True)
    return pem


def load_or_create(path: Path) -> SigningKey:
    """The Ed25519 key kept in ``path``; generated and written (mode 0600) if the file does
    not exist (see :func:`load_or_create_pem`)."""
    return SigningKey.from_pem(load_or_create_pem(path, lambda: SigningKey.generate().to_pem()))


def log_key_path(settings: Settings) -> Path:
    return settings.data_dir / "keys" / LOG_KEY_FILE


def load_log_signing_key(settings: Settings) -> SigningKey:
    """The key that signs the transparency log's tree heads.

    ``JOINEDUP_LOG_SIGNING_KEY`` when set; otherwise, outside production, the key kept in
    ``<data_dir>/keys/`` (generated on first use). Production without a configured key is
    refused (the settings already refuse to load; this guards direct construction too).
    """
    if settings.log_signing_key is not None:
        return _parsed(settings.log_signing_key.get_secret_value())
    if settings.is_production:
        raise UnusableKey("JOINEDUP_LOG_SIGNING_KEY is required in production")
    path = log_key_path(settings)
    return _parsed(load_or_create_pem(path, lambda: SigningKey.generate().to_pem()))


@lru_cache(maxsize=16)
def _parsed(pem: bytes | str) -> SigningKey:
    """A log key parsed once per PEM (every unit of work that reads through the exchange signs
    with it; the file is still read each time, so a key replaced on disk is taken at once)."""
    return SigningKey.from_pem(pem)


def configured_log_verifying_key(settings: Settings) -> VerifyingKey | None:
    """The public half of the configured log key, without generating one (for verifiers)."""
    if settings.log_signing_key is not None:
        return SigningKey.from_pem(settings.log_signing_key.get_secret_value()).verifying_key
    path = log_key_path(settings)
    if path.exists():
        return SigningKey.from_pem(path.read_bytes()).verifying_key
    return None
