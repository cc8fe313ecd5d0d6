"""AES-256-GCM envelope encryption: per-project DEKs under a KEK.

A secret is encrypted with its project's data-encryption key (DEK), with
the secret's identity as associated data; the DEK is stored only wrapped
by a key-encryption key (KEK). Both layers use the same sealed form:
``version (1 byte) || nonce (12 bytes) || ciphertext || tag (16 bytes)``.
"""

import json
import os
import typing

from cryptography.hazmat.primitives.ciphers import aead

VERSION = 1
KEY_SIZE = 32
NONCE_SIZE = 12
TAG_SIZE = 16
OVERHEAD = 1 + NONCE_SIZE + TAG_SIZE
DEK_LABEL = b'buckypaper-vault-dek-v1\0'


class EnvelopeError(Exception):
    """A sealed value that does not open (wrong key, data or form)."""


def new_key() -> bytes:
    """A fresh random AES-256 key."""
    return os.urandom(KEY_SIZE)


def seal(key: bytes, plaintext: bytes, aad: bytes) -> bytes:
    """``plaintext`` encrypted and authenticated with ``aad``."""
    nonce = os.urandom(NONCE_SIZE)
    return (bytes([VERSION]) + nonce
            + aead.AESGCM(key).encrypt(nonce, plaintext, aad))


def open_(key: bytes, sealed: bytes, aad: bytes) -> bytes:
    """The plaintext of :func:`seal`'s output; :class:`EnvelopeError`."""
    if len(sealed) < OVERHEAD or sealed[0] != VERSION:
        raise EnvelopeError('not a sealed value of version %d' % VERSION)
    try:
        return aead.AESGCM(key).decrypt(sealed[1:1 + NONCE_SIZE],
                                        sealed[1 + NONCE_SIZE:], aad)
    except Exception:
        raise EnvelopeError('authentication failed') from None


def dek_aad(project_id: str, kek_id: str) -> bytes:
    """Associated data of a wrapped DEK: its project and KEK."""
    return DEK_LABEL + canonical({'project': project_id, 'kek': kek_id})


def wrap_dek(kek: bytes, kek_id: str, project_id: str, dek: bytes) -> bytes:
    """``dek`` sealed under ``kek`` for ``project_id``."""
    return seal(kek, dek, dek_aad(project_id, kek_id))


def unwrap_dek(kek: bytes, kek_id: str, project_id: str,
               wrapped: bytes) -> bytes:
    """The DEK of :func:`wrap_dek`; :class:`EnvelopeError`."""
    dek = open_(kek, wrapped, dek_aad(project_id, kek_id))
    if len(dek) != KEY_SIZE:
        raise EnvelopeError('wrapped DEK has the wrong size')
    return dek


def secret_aad(vault_id: str, project_id: str,
               policy: typing.Optional[dict]) -> bytes:
    """Associated data of a secret: its identity and release policy.

    Changing the project or the policy in the database makes the secret
    unreadable rather than releasable elsewhere.
    """
    return b'buckypaper-vault-secret-v1\0' + canonical(
        {'id': vault_id, 'project': project_id, 'policy': policy})


def canonical(value) -> bytes:
    """The canonical JSON bytes of ``value`` (sorted keys, no spaces)."""
    return json.dumps(value, sort_keys=True, separators=(',', ':'),
                      ensure_ascii=True).encode('ascii')
