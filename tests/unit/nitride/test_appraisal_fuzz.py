"""Appraisal policy documents (set_policy, the tenant API) under fuzzing.

Whatever a document holds, :func:`appraisal.validate` returns it checked
or raises :class:`appraisal.PolicyError`; a document it accepted always
builds an effective policy with an instance's fixed expectations.
"""

import base64
import dataclasses
import uuid

from hypothesis import given
from hypothesis import strategies as st

from buckypaper_os import attestation
from buckypaper_os.nitride_service import appraisal
from tests import fuzzing
from tests.unit.nitride import guests

KEYS = sorted(f.name for f in dataclasses.fields(attestation.Policy)) + [
    appraisal.TOKEN_LIFETIME, 'unknown']
VALUES = st.one_of(fuzzing.JSON, st.sampled_from(
    [True, 0, 1, 2 ** 70, -1, 'aa' * 48, ['aa' * 48], {'snp': 1},
     {'1': ['00' * 48]}, '1.51', ['UpToDate']]))
FIXED = {'report_data': '00' * 64, 'host_data': '11' * 32,
         'measurements': ['22' * 48]}


@fuzzing.SETTINGS
@given(st.one_of(fuzzing.JSON, st.dictionaries(st.sampled_from(KEYS),
                                               VALUES, max_size=5)))
def test_arbitrary_policy_document(document):
    try:
        checked = appraisal.validate(document)
    except appraisal.PolicyError as exc:
        assert str(exc)
        return
    policy, lifetime = appraisal.effective([checked], FIXED, 300)
    assert isinstance(policy, attestation.Policy)
    assert 1 <= lifetime <= appraisal.MAX_TOKEN_LIFETIME


def test_null_token_lifetime_is_the_default(engine, pki, nitride_conf):
    """Regression: a null token_lifetime broke every attestation.

    It passed validation, then became the token's lifetime (a TypeError,
    the guest API's 500) for every instance under the policy.
    """
    engine.set_policy('project', 'project-n', {
        appraisal.TOKEN_LIFETIME: None})
    instance = str(uuid.uuid4())
    engine.register(instance, 'project-n', 'sev-snp',
                    [guests.MEASUREMENT.hex()])
    guest = guests.Guest(pki, instance, 'project-n')
    nonce = base64.b64decode(engine.challenge(instance)['nonce'])
    report, certs = guest.evidence(nonce)
    answer = engine.attest(instance, nonce, report, certs, guest.public_key)
    assert answer['expires_in'] == nitride_conf.nitride.token_lifetime
