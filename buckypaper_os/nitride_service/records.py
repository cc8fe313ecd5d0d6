"""Offline re-verification of exported attestation records.

An export (``buckypaper-nitride-manage export`` or the RPC ``export``) holds
the JWK Set of Nitride's token keys and, for every attestation, its token
and the evidence as the guest sent it. Anyone can check it without access
to Nitride:

1. the token's signatures, with the JWK Set, as of the time it was issued;
2. that the token carries the record's instance, status and claims;
3. the evidence itself, against the pinned vendor roots as of the
   record's time: it must verify and give the claims the record shows.

Simulated-TEE records are reported as such: they cannot verify against
vendor roots (pass the simulated roots to check them anyway).
"""

import base64
import binascii
import datetime
import typing

from buckypaper_os import attestation
from buckypaper_os.nitride_service import jwk
from buckypaper_os.nitride_service import token
from buckypaper_os.nitride_service import verifier as verifier_mod

#: Tolerance between a record's time and its token's iat.
LEEWAY = 300


def check(export: dict, simulated_trust_dir: typing.Optional[str] = None
          ) -> typing.List[dict]:
    """One finding per record: what holds, and ``ok`` if all of it does.

    Raises ``ValueError`` when ``export`` is not an export at all.
    """
    if not isinstance(export, dict) or not isinstance(
            export.get('attestations'), list):
        raise ValueError('not an export of attestation records')
    try:
        keys = jwk.from_jwks(export.get('jwks') or {})
    except (KeyError, TypeError, ValueError) as exc:
        raise ValueError('the export has no usable JWK Set: %s' % exc) \
            from None
    verifier = verifier_mod.Verifier(simulated_trust_dir)
    return [_check_record(record, keys, verifier) if isinstance(
        record, dict) else _finding({}, ['record is not a JSON object'])
        for record in export['attestations']]


def _check_record(record: dict, keys: list,
                  verifier: verifier_mod.Verifier) -> dict:
    problems = []
    try:
        at = datetime.datetime.fromisoformat(
            str(record['created_at']).replace('Z', '+00:00')).replace(
                tzinfo=datetime.timezone.utc)
    except (KeyError, ValueError):
        return _finding(record, ['record has no valid created_at'])
    if record.get('token'):
        problems += _token_problems(record, keys, at)
    elif record.get('status') != 'contraindicated':
        problems.append('an accepted attestation without its token')
    problems += _evidence_problems(record, verifier, at)
    return _finding(record, problems)


def _token_problems(record: dict, keys: list,
                    at: datetime.datetime) -> typing.List[str]:
    try:
        claims = token.verify(record['token'], keys, leeway=LEEWAY,
                              now=at.timestamp())
    except token.TokenError as exc:
        return ['token: %s' % exc]
    try:
        ((tee, submod),) = claims['submods'].items()
        signed = (tee, submod['ear.status'], submod[token.CLAIMS])
        expected = {'jti': record.get('token_jti'),
                    token.INSTANCE: record.get('instance_uuid'),
                    token.PROJECT: record.get('project_id')}
        problems = ['token %s is not the record\'s' % name
                    for name, value in expected.items()
                    if claims[name] != value]
    except (KeyError, TypeError, ValueError):
        return ['token: not the claims of a Nitride attestation token']
    if signed != (
            record.get('tee'), record.get('status'), record.get('claims')):
        problems.append('token TEE, status or claims are not the record\'s')
    return problems


def _evidence_problems(record: dict, verifier: verifier_mod.Verifier,
                       at: datetime.datetime) -> typing.List[str]:
    received = record.get('evidence')
    if not received:
        return ['the record carries no evidence']
    try:
        evidence = _b64(received['evidence'])
        certs = [_b64(c) for c in received.get('certificates', [])]
        files = {n: _b64(d) for n, d in received.get('collateral',
                                                     {}).items()}
        result, simulated = verifier.verify(
            evidence, tee=record.get('tee'), certs=certs, collateral=files,
            at=at, policy=attestation.Policy())
    except (attestation.EvidenceError, AttributeError, KeyError, TypeError,
            ValueError, binascii.Error) as exc:
        return ['evidence unreadable: %s' % exc]
    problems = []
    if record.get('simulated') and not simulated:
        problems.append('simulated TEE evidence: it does not verify '
                        'against vendor roots')
    elif not result.verified:
        problems += ['evidence: %s' % r for r in result.reasons]
    if result.claims != record.get('claims'):
        problems.append('evidence claims are not the record\'s')
    return problems


def _b64(text: str) -> bytes:
    return base64.b64decode(text, validate=True)


def _finding(record: dict, problems: typing.List[str]) -> dict:
    return {'id': record.get('id'), 'instance_uuid':
            record.get('instance_uuid'), 'status': record.get('status'),
            'simulated': bool(record.get('simulated')),
            'ok': not problems, 'problems': problems}
