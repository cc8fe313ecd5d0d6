"""Signed EAR attestation result tokens.

A token is an EAR (draft-ietf-rats-ear) in a JWS:

* ES384 only: a compact JWS, header ``{"alg": "ES384", "kid": ..., "typ":
  "JWT"}``.
* hybrid, when an ML-DSA-65 key is configured: the JWS JSON general
  serialization (RFC 7515 section 7.2.1) of the same payload with two
  signatures, ``ES384`` and ``ML-DSA-65`` (RFC 9964, empty context), each
  with its own protected header. A relying party that knows only ES384 still
  verifies the first signature; one that demands both sets
  ``require_mldsa``.

Every ``kid`` is the RFC 7638 thumbprint of the key (see :mod:`.jwk`).

Claims: ``eat_profile``, ``iat``, ``exp``, ``jti``, ``ear.verifier-id``,
``buckypaper.instance``, ``buckypaper.project`` and ``submods`` with one entry
named for the TEE holding ``ear.status``, ``ear.trustworthiness-vector``,
``buckypaper.claims`` (the evidence claims) and ``buckypaper.tee-pubkey``:
the unpadded base64url of the raw public key the guest bound into its
evidence (its HPKE SerializePublicKey encoding).
"""

import dataclasses
import functools
import json
import reprlib
import time
import typing
import uuid

from cryptography import exceptions
import jwt
from jwt import api_jws
import pbr.version

from buckypaper_os.nitride_service import jwk

if typing.TYPE_CHECKING:  # the guest imports this module without them
    from buckypaper_os.attestation import result as result_mod

EAR_PROFILE = 'tag:github.com,2023:veraison/ear'
CLAIMS = 'buckypaper.claims'
#: The reported TCB by min_tcb component names (SNP and TDX alike).
TCB = 'buckypaper.tcb'
TEE_PUBKEY = 'buckypaper.tee-pubkey'
INSTANCE = 'buckypaper.instance'
PROJECT = 'buckypaper.project'
DEVELOPER = 'buckypaper-os'

_ES384_JWS = api_jws.PyJWS(algorithms=[jwk.ES384])


class TokenError(Exception):
    """A token cannot be issued, or is refused."""


def _json_bytes(value: dict) -> bytes:
    return json.dumps(value, sort_keys=True,
                      separators=(',', ':')).encode('utf-8')


@functools.lru_cache(maxsize=None)
def _build() -> str:
    """This package's version, looked up once (a search of sys.path)."""
    return pbr.version.VersionInfo('buckypaper-os').version_string()


def _require(key: jwk.PrivateKey, alg: str, message: str) -> None:
    try:
        if jwk.algorithm(key) == alg:
            return
    except ValueError:
        pass
    raise TokenError(message)


@dataclasses.dataclass(frozen=True)
class Issued:
    """A freshly signed token with its identifier and claims."""

    token: str
    jti: str
    claims: dict


class Signer:
    """Signs token payloads with an ES384 key and an optional ML-DSA-65 key."""

    def __init__(self, key: jwk.PrivateKey,
                 mldsa_key: typing.Optional[jwk.PrivateKey] = None) -> None:
        _require(key, jwk.ES384, 'the token key must be an ECDSA P-384 key')
        if mldsa_key is not None:
            _require(mldsa_key, jwk.ML_DSA_65,
                     'the post-quantum token key must be ML-DSA-65')
        self._key = key
        self._mldsa_key = mldsa_key
        self._kid = jwk.thumbprint(key.public_key())
        if mldsa_key is not None:
            self._mldsa_header = jwk.b64url_encode(_json_bytes(
                {'alg': jwk.ML_DSA_65, 'typ': 'JWT',
                 'kid': jwk.thumbprint(mldsa_key.public_key())}))

    def public_keys(self) -> list:
        """The public keys of the signatures this signer makes."""
        keys = [self._key.public_key()]
        if self._mldsa_key is not None:
            keys.append(self._mldsa_key.public_key())
        return keys

    def sign(self, claims: dict) -> str:
        """A compact JWS of ``claims``, or a JSON JWS when hybrid."""
        compact = _ES384_JWS.encode(
            _json_bytes(claims), self._key, algorithm=jwk.ES384,
            headers={'kid': self._kid, 'typ': 'JWT'})
        if self._mldsa_key is None:
            return compact
        protected, payload, signature = compact.split('.')
        pq_signature = self._mldsa_key.sign(
            ('%s.%s' % (self._mldsa_header, payload)).encode('ascii'))
        return json.dumps({'payload': payload, 'signatures': [
            {'protected': protected, 'signature': signature},
            {'protected': self._mldsa_header,
             'signature': jwk.b64url_encode(pq_signature)}]},
            separators=(',', ':'))


def ear_claims(result: 'result_mod.AttestationResult', instance_uuid: str,
               project_id: str, tee_public_key: bytes, lifetime: int,
               now: typing.Optional[float] = None,
               extra: typing.Optional[dict] = None) -> dict:
    """The EAR claims set of an attestation result, before signing.

    ``extra`` claims go into the TEE's submod (e.g. a simulation marker).
    """
    iat = int(time.time() if now is None else now)
    return {
        'eat_profile': EAR_PROFILE,
        'iat': iat,
        'exp': iat + lifetime,
        'jti': uuid.uuid4().hex,
        'ear.verifier-id': {'developer': DEVELOPER, 'build': _build()},
        INSTANCE: instance_uuid,
        PROJECT: project_id,
        'submods': {result.tee: {
            'ear.status': result.status,
            'ear.trustworthiness-vector': dict(result.trustworthiness),
            CLAIMS: result.claims,
            TCB: dict(result.tcb),
            TEE_PUBKEY: jwk.b64url_encode(tee_public_key),
            **(extra or {}),
        }},
    }


def submod(claims: dict) -> typing.Tuple[str, dict]:
    """The TEE and the one submod of a token's claims.

    Raises ValueError, TypeError or KeyError on claims of another shape.
    """
    ((tee, values),) = claims['submods'].items()
    return tee, values


def tee_public_key(claims: dict) -> bytes:
    """The raw TEE public key that a token's claims name."""
    return jwk.b64url_decode(submod(claims)[1][TEE_PUBKEY])


def issue(signer: Signer, result: 'result_mod.AttestationResult',
          instance_uuid: str, project_id: str, tee_public_key: bytes,
          lifetime: int, now: typing.Optional[float] = None,
          extra: typing.Optional[dict] = None) -> Issued:
    """Sign a token for ``result``, valid ``lifetime`` seconds."""
    claims = ear_claims(result, instance_uuid, project_id, tee_public_key,
                        lifetime, now, extra)
    return Issued(signer.sign(claims), claims['jti'], claims)


def _signatures(token: str) -> typing.Tuple[str, list]:
    """The payload and (protected, signature) pairs of a JWS."""
    if not isinstance(token, str):
        raise TokenError('token is not a string')
    if not token.startswith('{'):
        parts = token.split('.')
        if len(parts) != 3:
            raise TokenError('token is not a compact JWS')
        return parts[1], [(parts[0], parts[2])]
    try:
        document = json.loads(token)
    except (ValueError, RecursionError):
        raise TokenError('token is not valid JSON') from None
    if (not isinstance(document, dict) or set(document) != {'payload',
                                                            'signatures'}
            or not isinstance(document['signatures'], list)
            or not document['signatures']):
        raise TokenError('token is not a JWS in general JSON serialization')
    pairs = []
    for entry in document['signatures']:
        if not isinstance(entry, dict) or set(entry) != {'protected',
                                                         'signature'}:
            raise TokenError('JWS signatures must have a protected header '
                             'and no unprotected one')
        pairs.append((entry['protected'], entry['signature']))
    return document['payload'], pairs


def _decode_json(part: str, what: str) -> dict:
    try:
        value = json.loads(jwk.b64url_decode(part))
    except (ValueError, TypeError, RecursionError):
        raise TokenError('%s is not base64url JSON' % what) from None
    if not isinstance(value, dict):
        raise TokenError('%s is not a JSON object' % what)
    return value


def _verify_es384(key: jwk.PublicKey, protected: str, payload: str,
                  signature: str) -> None:
    try:
        _ES384_JWS.decode_complete('%s.%s.%s' % (protected, payload,
                                                 signature),
                                   key, algorithms=[jwk.ES384])
    except jwt.InvalidSignatureError:
        raise TokenError('ES384 signature invalid') from None
    except jwt.PyJWTError as exc:
        raise TokenError('ES384 signature refused: %s' % exc) from None


def _verify_mldsa(key: jwk.PublicKey, protected: str, payload: str,
                  signature: str) -> None:
    try:
        key.verify(jwk.b64url_decode(signature),
                   ('%s.%s' % (protected, payload)).encode('ascii'))
    except (exceptions.InvalidSignature, ValueError):
        raise TokenError('ML-DSA-65 signature invalid') from None


_VERIFIERS = {jwk.ES384: _verify_es384, jwk.ML_DSA_65: _verify_mldsa}


def _check_claims(claims: dict, leeway: int, now: float) -> None:
    if claims.get('eat_profile') != EAR_PROFILE:
        raise TokenError('token eat_profile is not %s' % EAR_PROFILE)
    for name in ('iat', 'exp'):
        if type(claims.get(name)) is not int:
            raise TokenError('token %s is not an integer' % name)
    if now >= claims['exp'] + leeway:
        raise TokenError('token expired')
    if claims['iat'] > now + leeway:
        raise TokenError('token issued in the future')
    if not isinstance(claims.get('jti'), str) or not claims['jti']:
        raise TokenError('token has no jti')
    if not isinstance(claims.get('submods'), dict) or not claims['submods']:
        raise TokenError('token has no submods')


def verify(token: str, keys: typing.Iterable[jwk.PublicKey], *,
           require_mldsa: bool = False, leeway: int = 0,
           now: typing.Optional[float] = None) -> dict:
    """The claims of ``token`` once every signature and time check holds.

    Signatures as :func:`signed_payload` checks them; then the EAR profile,
    ``iat``, ``exp``, ``jti`` and ``submods``. Raises :class:`TokenError`
    saying why a token is refused.
    """
    claims = signed_payload(token, keys, require_mldsa=require_mldsa)
    _check_claims(claims, leeway, time.time() if now is None else now)
    return claims


def signed_payload(token: str, keys: typing.Iterable[jwk.PublicKey], *,
                   require_mldsa: bool = False) -> dict:
    """The JSON payload of a JWS once every signature holds.

    Each signature present must be ES384 or ML-DSA-65, name in ``kid`` one
    of ``keys`` of its algorithm and be valid; an ES384 signature is always
    required, an ML-DSA-65 one when ``require_mldsa``. Raises
    :class:`TokenError`.
    """
    by_kid = {jwk.thumbprint(key): key for key in keys}
    payload, pairs = _signatures(token)
    seen = set()
    for protected, signature in pairs:
        header = _decode_json(protected, 'JWS protected header')
        alg = header.get('alg')
        if not isinstance(alg, str) or alg not in _VERIFIERS:
            raise TokenError('algorithm %s not accepted'
                             % reprlib.repr(alg))  # shortened: untrusted
        if alg in seen:
            raise TokenError('two %s signatures' % alg)
        if 'crit' in header:
            raise TokenError('critical header parameters not supported')
        kid = header.get('kid')
        key = by_kid.get(kid) if isinstance(kid, str) else None
        if key is None:
            raise TokenError('token signed by an unknown key')
        if jwk.algorithm(key) != alg:
            raise TokenError('key %s does not sign %s' % (kid, alg))
        _VERIFIERS[alg](key, protected, payload, signature)
        seen.add(alg)
    if jwk.ES384 not in seen:
        raise TokenError('ES384 signature missing')
    if require_mldsa and jwk.ML_DSA_65 not in seen:
        raise TokenError('ML-DSA-65 signature required')
    return _decode_json(payload, 'token payload')
