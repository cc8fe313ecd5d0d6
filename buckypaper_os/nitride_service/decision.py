"""Nitride's signed release decisions, which the Vault checks.

RabbitMQ authenticates no message, and every compute host holds broker
credentials: whoever listens on Nitride's topic could answer the Vault's
``authorize_release`` call. So the Vault sends a fresh random challenge
with each call, and Nitride signs every yes with its Ed25519 decision key
over a label and the canonical JSON of what it decided: "allowed", the
challenge, the SHA-256 of the ticket, the secret, its project and release
policy, and the instance and TEE key it releases to. Refusals are not
signed. The Vault pins the public key and releases only on a valid
signature over its own call, sealing to the key the signature covers. A
decision is used within seconds of its challenge, so a classical
signature suffices (nothing signed now is worth forging later). Only
Nitride's RPC workers hold the private key, never its guest API.
"""

import base64
import hashlib
import os
import typing

from cryptography import exceptions
from cryptography.hazmat.primitives.asymmetric import ed25519
from cryptography.hazmat.primitives import serialization

from buckypaper_os.barbican_plugin import envelope

LABEL = b'buckypaper-release-decision-v1\0'
CHALLENGE_BYTES = 32
#: Longest base64 text accepted for a challenge or a signature.
MAX_FIELD = 128


class DecisionError(Exception):
    """A decision key that cannot be used, or a signature that fails."""


def new_challenge() -> str:
    """A fresh challenge for one call (base64 of 32 random bytes)."""
    return base64.b64encode(os.urandom(CHALLENGE_BYTES)).decode('ascii')


def check_challenge(challenge: typing.Any) -> str:
    """``challenge`` if it is the base64 of 32 bytes; DecisionError if not."""
    try:
        if (isinstance(challenge, str) and len(challenge) <= MAX_FIELD
                and len(base64.b64decode(challenge, validate=True))
                == CHALLENGE_BYTES):
            return challenge
    except ValueError:
        pass
    raise DecisionError('challenge is not the base64 of %d bytes'
                        % CHALLENGE_BYTES)


def statement(challenge: str, ticket: str, secret_ref: str,
              project_id: str, release_policy: typing.Optional[dict],
              instance_uuid: str, tee_public_key: str) -> bytes:
    """The bytes a decision signs (``tee_public_key`` in base64)."""
    return LABEL + envelope.canonical({
        'decision': 'allowed',
        'challenge': challenge,
        'ticket_sha256': hashlib.sha256(ticket.encode('utf-8')).hexdigest(),
        'secret': secret_ref,
        'project': project_id,
        'release_policy': release_policy,
        'instance': instance_uuid,
        'tee_public_key': tee_public_key,
    })


def sign(key: ed25519.Ed25519PrivateKey, signed: bytes) -> str:
    """The base64 signature of a :func:`statement`."""
    return base64.b64encode(key.sign(signed)).decode('ascii')


def verify(keys: typing.Sequence[ed25519.Ed25519PublicKey],
           signature: typing.Any, signed: bytes) -> None:
    """Return if one of ``keys`` signed ``signed``; DecisionError if none."""
    try:
        if not isinstance(signature, str) or len(signature) > MAX_FIELD:
            raise ValueError
        raw = base64.b64decode(signature, validate=True)
    except ValueError:
        raise DecisionError('decision signature is malformed') from None
    for key in keys:
        try:
            key.verify(raw, signed)
            return
        except exceptions.InvalidSignature:
            continue
    raise DecisionError('decision not signed by a pinned Nitride key')


def _load(path: str, loader: typing.Callable, kind: type,
          private: bool = False):
    try:
        if private and os.stat(path).st_mode & 0o077:
            raise DecisionError('decision key %s is accessible to other '
                                'users; it must be mode 0600' % path)
        with open(path, 'rb') as f:
            key = loader(f.read())
    except (OSError, ValueError, TypeError) as exc:
        # The exception class only: a parser message could quote the file.
        raise DecisionError('cannot load decision key from %s (%s)'
                            % (path, type(exc).__name__)) from None
    if not isinstance(key, kind):
        raise DecisionError('decision key %s is not an Ed25519 key' % path)
    return key


def load_private_key(path: str) -> ed25519.Ed25519PrivateKey:
    """The Ed25519 private key in PEM file ``path`` (Nitride's side)."""
    return _load(path, lambda data: serialization.load_pem_private_key(
        data, password=None), ed25519.Ed25519PrivateKey, private=True)


def load_public_key(path: str) -> ed25519.Ed25519PublicKey:
    """The Ed25519 public key in PEM file ``path`` (the Vault's side)."""
    return _load(path, serialization.load_pem_public_key,
                 ed25519.Ed25519PublicKey)
