"""``buckypaper-attest records`` under arbitrary and crafted exports.

An export is a file from elsewhere: :func:`records.check` answers one
finding per record or raises ``ValueError`` for what is not an export,
whatever it holds, including tokens that verify against the export's own
JWK Set but carry claims Nitride would never issue.
"""

import time

from cryptography.hazmat.primitives.asymmetric import ec
from hypothesis import given
from hypothesis import strategies as st

from buckypaper_os.nitride_service import jwk
from buckypaper_os.nitride_service import records
from buckypaper_os.nitride_service import token
from tests import fuzzing

KEY = ec.generate_private_key(ec.SECP384R1())
SIGNER = token.Signer(KEY)
JWKS = jwk.to_jwks([KEY.public_key()])
NOW = int(time.time())
CREATED = time.strftime('%Y-%m-%dT%H:%M:%SZ', time.gmtime(NOW))
RECORD_KEYS = ['id', 'created_at', 'token', 'token_jti', 'status', 'tee',
               'claims', 'instance_uuid', 'project_id', 'evidence',
               'simulated']


def _check(export) -> None:
    try:
        findings = records.check(export)
    except ValueError as exc:
        assert str(exc)
        return
    assert len(findings) == len(export['attestations'])
    for finding in findings:
        assert finding['ok'] is False and finding['problems']


def _signed(claims) -> str:
    """Claims that pass the token checks, the rest arbitrary."""
    base = {'eat_profile': token.EAR_PROFILE, 'iat': NOW, 'exp': NOW + 60,
            'jti': 'j'}
    return SIGNER.sign(dict(claims, **base) if isinstance(claims, dict)
                       else base)


RECORDS = st.one_of(fuzzing.JSON, st.fixed_dictionaries({}, optional={
    name: fuzzing.JSON for name in RECORD_KEYS}).map(
        lambda r: dict(r, created_at=r.get('created_at', CREATED))))
SIGNED_CLAIMS = st.fixed_dictionaries({}, optional={
    'submods': st.one_of(fuzzing.JSON, st.dictionaries(
        st.sampled_from(['sev-snp', 'tdx']), st.one_of(
            fuzzing.JSON, st.fixed_dictionaries({}, optional={
                'ear.status': fuzzing.JSON, token.CLAIMS: fuzzing.JSON})),
        min_size=1)),
    token.INSTANCE: fuzzing.JSON, token.PROJECT: fuzzing.JSON})


@fuzzing.SETTINGS
@given(st.one_of(fuzzing.JSON, st.fixed_dictionaries({
    'attestations': st.lists(RECORDS, max_size=3),
    'jwks': st.one_of(fuzzing.JSON, st.just(JWKS))})))
def test_arbitrary_export(export):
    _check(export)


@fuzzing.settings_for(150)
@given(st.lists(st.tuples(RECORDS, SIGNED_CLAIMS), min_size=1, max_size=2))
def test_arbitrary_claims_under_the_exports_own_key(pairs):
    attestations = []
    for record, claims in pairs:
        record = dict(record) if isinstance(record, dict) else {}
        record.update(created_at=CREATED, token=_signed(claims))
        attestations.append(record)
    _check({'jwks': JWKS, 'attestations': attestations})


def test_records_that_crashed_the_check():
    """Regression: TypeError, KeyError and ValueError escaped check()."""
    findings = records.check({'jwks': JWKS, 'attestations': [
        None, {'created_at': CREATED, 'token': _signed({'submods': {
            'sev-snp': {'ear.status': 'affirming'}}})},
        {'created_at': CREATED, 'token': _signed({'submods': {
            'sev-snp': {}, 'tdx': {}}})},
        {'created_at': CREATED, 'evidence': ['x']}]})
    assert [f['problems'][0] for f in findings] == [
        'record is not a JSON object',
        'token: not the claims of a Nitride attestation token',
        'token: not the claims of a Nitride attestation token',
        "an accepted attestation without its token"]
    assert 'evidence unreadable' in findings[3]['problems'][1]
