"""Ed25519 keys of the exchange: each member's message-log signing key, and the platform's
access-token signing key.

Keys are generated on first use and stored in the database, the private half encrypted with
AES-256-GCM under a key derived (HKDF-SHA256) from ``JOINEDUP_SECRET_KEY`` — so a copy of the
database alone does not let anyone sign as a member, and every process of a deployment finds
the same keys. The encryption binds each key to its row (the key id is the associated data),
so a private key cannot be moved to another member's row unnoticed.

Decrypted keys are kept in the directory snapshot (:mod:`joinedup.exchange.directory`), so
signing costs no query; creating a key counts as a directory change.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from functools import lru_cache

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from joinedup.core.clock import utcnow
from joinedup.core.errors import NotFound
from joinedup.core.keys import SigningKey, UnusableKey
from joinedup.core.settings import get_settings
from joinedup.exchange.directory import (
    Directory,
    StoredKey,
    bump_generation,
    current_directory,
)
from joinedup.exchange.models import Member, MemberKey, TokenKey

_NONCE_SIZE = 12
TOKEN_KEY_USE = "access-token"  # noqa: S105 (what the key signs, not a secret)


@lru_cache(maxsize=4)
def _wrapping_key(secret: str) -> AESGCM:
    derived = HKDF(
        algorithm=hashes.SHA256(), length=32, salt=None, info=b"joinedup exchange signing keys v1"
    ).derive(secret.encode())
    return AESGCM(derived)


def _aead() -> AESGCM:
    return _wrapping_key(get_settings().secret_key.get_secret_value())


def seal_private_key(key: SigningKey) -> bytes:
    """The private key encrypted for storage: nonce || AES-GCM(PKCS#8 PEM), bound to its id."""
    nonce = os.urandom(_NONCE_SIZE)
    return nonce + _aead().encrypt(nonce, key.to_pem(), key.key_id.encode())


def open_private_key(stored: StoredKey) -> SigningKey:
    """The stored key, decrypted and checked against its public half."""
    nonce, ciphertext = stored.encrypted[:_NONCE_SIZE], stored.encrypted[_NONCE_SIZE:]
    try:
        pem = _aead().decrypt(nonce, ciphertext, stored.key_id.encode())
    except InvalidTag as exc:
        raise UnusableKey(
            f"signing key {stored.key_id} cannot be decrypted: JOINEDUP_SECRET_KEY is not the "
            "one it was stored under, or the row was altered"
        ) from exc
    key = SigningKey.from_pem(pem)
    if key.key_id != stored.key_id or key.public_pem() != stored.public_pem:
        raise UnusableKey(f"signing key {stored.key_id} does not match its public key")
    return key


def _unlock(directory: Directory, stored: StoredKey) -> SigningKey:
    key = directory.unlocked.get(stored.key_id)
    if key is None:
        key = directory.unlocked[stored.key_id] = open_private_key(stored)
    return key


def member_signing_key(session: Session, *, member_id: int) -> SigningKey:
    """The member's Ed25519 message-log signing key. Created on first use (one key row,
    a directory change, in the caller's transaction); ``NotFound`` for an unknown member."""
    directory = current_directory(session)
    stored = directory.member_keys.get(member_id)
    if stored is not None:
        return _unlock(directory, stored)
    if session.get(Member, member_id) is None:
        raise NotFound(f"member {member_id} is not registered")
    existing = session.scalar(
        select(MemberKey).where(MemberKey.member_id == member_id, MemberKey.retired_at.is_(None))
    )
    if existing is not None:  # created since the snapshot was taken
        return open_private_key(_stored_member_key(existing))
    key = SigningKey.generate()
    row = MemberKey(
        member_id=member_id,
        key_id=key.key_id,
        public_key_pem=key.public_pem(),
        private_key=seal_private_key(key),
        created_at=utcnow(),
        retired_at=None,
    )
    try:
        with session.begin_nested():
            session.add(row)
    except IntegrityError:  # another transaction created the member's key first
        existing = session.scalar(
            select(MemberKey).where(
                MemberKey.member_id == member_id, MemberKey.retired_at.is_(None)
            )
        )
        if existing is None:
            raise
        return open_private_key(_stored_member_key(existing))
    bump_generation(session)
    return key


def create_member_keys(session: Session, *, member_ids: Sequence[int]) -> int:
    """Create the signing key of every member in ``member_ids`` that has none (one directory
    change for all). Returns how many were created."""
    existing = set(
        session.scalars(
            select(MemberKey.member_id).where(
                MemberKey.member_id.in_(member_ids), MemberKey.retired_at.is_(None)
            )
        )
    )
    created = 0
    for member_id in dict.fromkeys(member_ids):
        if member_id in existing:
            continue
        key = SigningKey.generate()
        session.add(
            MemberKey(
                member_id=member_id,
                key_id=key.key_id,
                public_key_pem=key.public_pem(),
                private_key=seal_private_key(key),
                created_at=utcnow(),
                retired_at=None,
            )
        )
        created += 1
    if created:
        session.flush()
        bump_generation(session)
    return created


def _stored_member_key(row: MemberKey) -> StoredKey:
    return StoredKey(
        key_id=row.key_id,
        owner_id=row.member_id,
        public_pem=row.public_key_pem,
        encrypted=row.private_key,
        created_at=row.created_at,
        retired_at=row.retired_at,
    )


def _stored_token_key(row: TokenKey) -> StoredKey:
    return StoredKey(
        key_id=row.key_id,
        owner_id=0,
        public_pem=row.public_key_pem,
        encrypted=row.private_key,
        created_at=row.created_at,
        retired_at=row.retired_at,
    )


def token_signing_key(session: Session) -> SigningKey:
    """The platform's active access-token signing key (created on first use, like a member
    key)."""
    directory = current_directory(session)
    for stored in directory.token_keys.values():
        if stored.retired_at is None:
            return _unlock(directory, stored)
    active = select(TokenKey).where(TokenKey.use == TOKEN_KEY_USE, TokenKey.retired_at.is_(None))
    existing = session.scalar(active)
    if existing is not None:
        return open_private_key(_stored_token_key(existing))
    key = SigningKey.generate()
    row = TokenKey(
        key_id=key.key_id,
        use=TOKEN_KEY_USE,
        public_key_pem=key.public_pem(),
        private_key=seal_private_key(key),
        created_at=utcnow(),
        retired_at=None,
    )
    try:
        with session.begin_nested():
            session.add(row)
    except IntegrityError:
        existing = session.scalar(active)
        if existing is None:
            raise
        return open_private_key(_stored_token_key(existing))
    bump_generation(session)
    return key
