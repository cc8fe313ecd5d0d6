"""HPKE (RFC 9180) sealing of a released secret to a TEE's ephemeral key.

Wire form of a TEE public key (what the guest attests, in REPORT_DATA
through ``SHA-512(nonce || key)``, and sends as ``tee_public_key``)::

    suite id (1 byte) || KEM public key
    0x01  ML-KEM-768+X25519, HKDF-SHA256, AES-256-GCM:
          ML-KEM-768 encapsulation key (1184) || X25519 key (32); 1217 bytes
    0x02  P-384, HKDF-SHA384, AES-256-GCM:
          uncompressed SEC1 point (97); 98 bytes

Wire form of a sealed secret (base mode, single shot)::

    version 0x01 (1 byte) || suite id (1 byte) || enc || ciphertext || tag

The HPKE ``info`` is a label, those two header bytes and the canonical
JSON of the instance UUID and the Barbican secret id, so a blob opens only
for the instance and secret it was released for. Only the guest's private
key opens it: :func:`open_sealed` is the guest side.
"""

import functools
import typing

from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric import mlkem
from cryptography.hazmat.primitives.asymmetric import x25519
from cryptography.hazmat.primitives import hpke
from cryptography.hazmat.primitives import serialization

from buckypaper_os.barbican_plugin import envelope

VERSION = 1
MLKEM768_X25519 = 1
P384 = 2
SUITES = {
    MLKEM768_X25519: hpke.Suite(hpke.KEM.MLKEM768_X25519,
                                hpke.KDF.HKDF_SHA256,
                                hpke.AEAD.AES_256_GCM),
    P384: hpke.Suite(hpke.KEM.P384, hpke.KDF.HKDF_SHA384,
                     hpke.AEAD.AES_256_GCM),
}
MLKEM768_PUBLIC = 1184
X25519_PUBLIC = 32
P384_PUBLIC = 97
INFO_LABEL = b'buckypaper-vault-release-v1\0'
#: The AES-256-GCM tag that ends every sealed blob.
TAG_SIZE = 16


class SealingError(Exception):
    """A key or blob that is malformed, or a blob that does not open."""


def _mlkem_x25519_public(raw: bytes) -> hpke.MLKEM768X25519PublicKey:
    if len(raw) != MLKEM768_PUBLIC + X25519_PUBLIC:
        raise SealingError('ML-KEM-768+X25519 public key must be %d bytes'
                           % (MLKEM768_PUBLIC + X25519_PUBLIC))
    return hpke.MLKEM768X25519PublicKey(
        mlkem.MLKEM768PublicKey.from_public_bytes(raw[:MLKEM768_PUBLIC]),
        x25519.X25519PublicKey.from_public_bytes(raw[MLKEM768_PUBLIC:]))


def _p384_public(raw: bytes) -> ec.EllipticCurvePublicKey:
    if len(raw) != P384_PUBLIC or raw[0] != 4:
        raise SealingError('P-384 public key must be an uncompressed point')
    return ec.EllipticCurvePublicKey.from_encoded_point(ec.SECP384R1(), raw)


@functools.lru_cache(maxsize=256)
def load_public_key(wire: bytes) -> typing.Tuple[int, typing.Any]:
    """The suite id and key object of a TEE public key's wire form.

    Cached by the wire bytes: a guest's key is released to many times
    while its attestation lasts, and a public key object is immutable.
    Invalid keys raise every time (exceptions are not cached).
    """
    if not wire or wire[0] not in SUITES:
        raise SealingError('unknown HPKE suite of the TEE public key')
    try:
        if wire[0] == MLKEM768_X25519:
            return wire[0], _mlkem_x25519_public(wire[1:])
        return wire[0], _p384_public(wire[1:])
    except ValueError:
        raise SealingError('invalid TEE public key') from None


def info(suite_id: int, instance_uuid: str, secret_id: str) -> bytes:
    """The HPKE info binding a blob to its instance and secret."""
    return INFO_LABEL + bytes([VERSION, suite_id]) + envelope.canonical(
        {'instance': instance_uuid, 'secret': secret_id})


def seal(tee_public_key: bytes, plaintext: bytes, instance_uuid: str,
         secret_id: str) -> bytes:
    """``plaintext`` sealed to the TEE key for this instance and secret."""
    return seal_to(load_public_key(tee_public_key), plaintext,
                   instance_uuid, secret_id)


def seal_to(public_key: typing.Tuple[int, typing.Any], plaintext: bytes,
            instance_uuid: str, secret_id: str) -> bytes:
    """:func:`seal` to a key already loaded by :func:`load_public_key`."""
    suite_id, key = public_key
    return bytes([VERSION, suite_id]) + SUITES[suite_id].encrypt(
        plaintext, key, info=info(suite_id, instance_uuid, secret_id))


class TeeKeyPair:
    """The guest's ephemeral key pair (the enclaivelet's side)."""

    def __init__(self, suite_id: int = MLKEM768_X25519) -> None:
        if suite_id == MLKEM768_X25519:
            self._mlkem = mlkem.MLKEM768PrivateKey.generate()
            self._x25519 = x25519.X25519PrivateKey.generate()
            self._private = hpke.MLKEM768X25519PrivateKey(self._mlkem,
                                                          self._x25519)
        elif suite_id == P384:
            self._private = ec.generate_private_key(ec.SECP384R1())
        else:
            raise SealingError('unknown HPKE suite %r' % suite_id)
        self.suite_id = suite_id

    def public_bytes(self) -> bytes:
        """The wire form of the public key (see the module docstring)."""
        if self.suite_id == MLKEM768_X25519:
            raw = (self._mlkem.public_key().public_bytes_raw()
                   + self._x25519.public_key().public_bytes_raw())
        else:
            raw = self._private.public_key().public_bytes(
                serialization.Encoding.X962,
                serialization.PublicFormat.UncompressedPoint)
        return bytes([self.suite_id]) + raw

    def open(self, sealed: bytes, instance_uuid: str,
             secret_id: str) -> bytes:
        """The plaintext of a blob sealed to this key pair."""
        return open_sealed(self._private, self.suite_id, sealed,
                           instance_uuid, secret_id)


def is_sealed(blob: bytes) -> bool:
    """Whether ``blob`` has the form of a sealed blob (it is not opened)."""
    return (len(blob) > 2 + TAG_SIZE and blob[0] == VERSION
            and blob[1] in SUITES)


def open_sealed(private_key, suite_id: int, sealed: bytes,
                instance_uuid: str, secret_id: str) -> bytes:
    """Open a blob of :func:`seal`; :class:`SealingError` if it does not."""
    if len(sealed) < 2 or sealed[0] != VERSION or sealed[1] != suite_id:
        raise SealingError('not a sealed blob of version %d for suite %d'
                           % (VERSION, suite_id))
    try:
        return SUITES[suite_id].decrypt(
            sealed[2:], private_key,
            info=info(suite_id, instance_uuid, secret_id))
    except Exception:
        raise SealingError('sealed blob does not open') from None
