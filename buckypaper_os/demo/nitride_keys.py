"""Throw-away Nitride key pairs for demos and tests."""

import os
import typing

from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric import ed25519
from cryptography.hazmat.primitives import serialization


def _write_pair(directory: str, name: str, key) -> typing.Tuple[str, str]:
    """Write ``NAME.pem`` (PKCS#8, mode 0600) and ``NAME.pub.pem``."""
    private = os.path.join(directory, '%s.pem' % name)
    public = os.path.join(directory, '%s.pub.pem' % name)
    with open(os.open(private, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600),
              'wb') as f:
        f.write(key.private_bytes(serialization.Encoding.PEM,
                                  serialization.PrivateFormat.PKCS8,
                                  serialization.NoEncryption()))
    with open(public, 'wb') as f:
        f.write(key.public_key().public_bytes(
            serialization.Encoding.PEM,
            serialization.PublicFormat.SubjectPublicKeyInfo))
    return private, public


def token_key(directory: str) -> typing.Tuple[str, str]:
    """An ECDSA P-384 token key: for ``[nitride] token_key_file``, public."""
    return _write_pair(directory, 'token', ec.generate_private_key(
        ec.SECP384R1()))


def decision_key(directory: str) -> typing.Tuple[str, str]:
    """An Ed25519 decision key: for ``[nitride] decision_key_file``, public.

    The public half goes into ``[buckypaper_vault]
    nitride_decision_key_files``.
    """
    return _write_pair(directory, 'decision',
                       ed25519.Ed25519PrivateKey.generate())
