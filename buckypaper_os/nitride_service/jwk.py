"""JSON Web Keys of the token signing keys (RFC 7517, RFC 7638, RFC 9964).

Two key types are supported: ECDSA P-384 (``kty`` EC, ``alg`` ES384) and
ML-DSA-65 (``kty`` AKP, ``alg`` ML-DSA-65, ``pub`` the raw FIPS 204 public
key). The ``kid`` of every key is its RFC 7638 thumbprint; for AKP keys the
thumbprint members are ``alg``, ``kty`` and ``pub``.
"""

import base64
import hashlib
import json
import typing

from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric import mldsa
from cryptography.hazmat.primitives import serialization

ES384 = 'ES384'
ML_DSA_65 = 'ML-DSA-65'

PublicKey = typing.Union[ec.EllipticCurvePublicKey, mldsa.MLDSA65PublicKey]
PrivateKey = typing.Union[ec.EllipticCurvePrivateKey,
                          mldsa.MLDSA65PrivateKey]

_P384_BYTES = 48
_THUMBPRINT_MEMBERS = {'EC': ('crv', 'kty', 'x', 'y'),
                       'AKP': ('alg', 'kty', 'pub')}


def b64url_encode(data: bytes) -> str:
    """Unpadded base64url (RFC 7515 section 2)."""
    return base64.urlsafe_b64encode(data).rstrip(b'=').decode('ascii')


def b64url_decode(text: str) -> bytes:
    """Strict inverse of :func:`b64url_encode`; raises ``ValueError``."""
    if not isinstance(text, str) or '=' in text:
        raise ValueError('not unpadded base64url')
    padded = text + '=' * (-len(text) % 4)
    try:
        return base64.b64decode(padded, altchars=b'-_', validate=True)
    except (ValueError, TypeError) as exc:
        raise ValueError('not unpadded base64url') from exc


def algorithm(key: typing.Union[PublicKey, PrivateKey]) -> str:
    """The JWS ``alg`` a key signs with; ``ValueError`` for other keys."""
    if isinstance(key, (ec.EllipticCurvePublicKey,
                        ec.EllipticCurvePrivateKey)):
        if isinstance(key.curve, ec.SECP384R1):
            return ES384
    elif isinstance(key, (mldsa.MLDSA65PublicKey, mldsa.MLDSA65PrivateKey)):
        return ML_DSA_65
    raise ValueError('unsupported key: only ECDSA P-384 and ML-DSA-65 '
                     'keys sign tokens')


def _members(key: PublicKey) -> dict:
    """The public members of ``key`` that its thumbprint covers."""
    if algorithm(key) == ES384:
        numbers = key.public_numbers()
        return {'kty': 'EC', 'crv': 'P-384',
                'x': b64url_encode(numbers.x.to_bytes(_P384_BYTES, 'big')),
                'y': b64url_encode(numbers.y.to_bytes(_P384_BYTES, 'big'))}
    return {'kty': 'AKP', 'alg': ML_DSA_65,
            'pub': b64url_encode(key.public_bytes_raw())}


def thumbprint(key: PublicKey) -> str:
    """RFC 7638 SHA-256 thumbprint of ``key``, base64url."""
    members = _members(key)
    required = {name: members[name]
                for name in _THUMBPRINT_MEMBERS[members['kty']]}
    canonical = json.dumps(required, sort_keys=True, separators=(',', ':'))
    return b64url_encode(hashlib.sha256(canonical.encode('utf-8')).digest())


def to_jwk(key: PublicKey) -> dict:
    """The public JWK of ``key`` with ``kid``, ``alg`` and ``use``."""
    return dict(_members(key), alg=algorithm(key), use='sig',
                kid=thumbprint(key))


def to_jwks(keys: typing.Iterable[PublicKey]) -> dict:
    """A JWK Set (RFC 7517 section 5) of ``keys``, duplicates removed."""
    seen = {}
    for key in keys:
        seen.setdefault(thumbprint(key), to_jwk(key))
    return {'keys': list(seen.values())}


def from_jwk(jwk: dict) -> PublicKey:
    """The public key of a JWK made by :func:`to_jwk`.

    Raises ``ValueError`` for other key types and when ``kid`` is present but
    is not the key's thumbprint.
    """
    if not isinstance(jwk, dict):
        raise ValueError('a JWK must be a JSON object')
    kty = jwk.get('kty')
    if kty == 'EC' and jwk.get('crv') == 'P-384':
        x = int.from_bytes(b64url_decode(jwk.get('x')), 'big')
        y = int.from_bytes(b64url_decode(jwk.get('y')), 'big')
        key = ec.EllipticCurvePublicNumbers(x, y, ec.SECP384R1()).public_key()
    elif kty == 'AKP' and jwk.get('alg') == ML_DSA_65:
        key = mldsa.MLDSA65PublicKey.from_public_bytes(
            b64url_decode(jwk.get('pub')))
    else:
        raise ValueError('unsupported JWK: only EC P-384 and AKP ML-DSA-65')
    if 'kid' in jwk and jwk['kid'] != thumbprint(key):
        raise ValueError('JWK kid is not the thumbprint of its key')
    return key


def from_jwks(jwks: dict) -> list:
    """The public keys of a JWK Set; ``ValueError`` if it is not one."""
    keys = jwks.get('keys', []) if isinstance(jwks, dict) else None
    if not isinstance(keys, list):
        raise ValueError('a JWK Set must be a JSON object with a keys list')
    return [from_jwk(jwk) for jwk in keys]


def load_private_key(path: str) -> PrivateKey:
    """A token signing private key from an unencrypted PEM file."""
    with open(path, 'rb') as f:
        key = serialization.load_pem_private_key(f.read(), password=None)
    algorithm(key)
    return key


def load_public_key(path: str) -> PublicKey:
    """A token public key from a PEM file of a public or private key."""
    with open(path, 'rb') as f:
        data = f.read()
    if b'PRIVATE KEY-----' in data:
        key = serialization.load_pem_private_key(data, password=None)
        key = key.public_key()
    else:
        key = serialization.load_pem_public_key(data)
    algorithm(key)
    return key
