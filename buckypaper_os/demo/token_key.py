"""A throw-away Nitride token key pair for demos and tests."""

import os
import typing

from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives import serialization


def generate(directory: str) -> typing.Tuple[str, str]:
    """Write ``token.pem`` (ECDSA P-384, mode 0600) and ``token.pub.pem``.

    Returns both paths: the first for ``[nitride] token_key_file``, the
    second for ``[buckypaper_vault] nitride_token_key_files``.
    """
    key = ec.generate_private_key(ec.SECP384R1())
    private = os.path.join(directory, 'token.pem')
    public = os.path.join(directory, 'token.pub.pem')
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
