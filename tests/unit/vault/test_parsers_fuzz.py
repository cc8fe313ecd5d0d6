"""The Vault's parsers under arbitrary and mutated input.

A secret's release policy comes from tenant-written metadata; stored
envelopes and sealed blobs are bytes that someone with database access
could change. Whatever they hold, the only outcomes are the documented
errors or (for untouched blobs) the original plaintext.
"""

import json
import os
import uuid

from hypothesis import given
from hypothesis import strategies as st

from buckypaper_os.barbican_plugin import envelope
from buckypaper_os.barbican_plugin import policy as policy_mod
from buckypaper_os.barbican_plugin import sealing
from tests import fuzzing

PROJECT = 'project-a'
INSTANCE = str(uuid.uuid4())
KEY = os.urandom(envelope.KEY_SIZE)
PAIRS = {suite: sealing.TeeKeyPair(suite)
         for suite in (sealing.MLKEM768_X25519, sealing.P384)}
POLICY_KEYS = ['buckypaper-instance', 'buckypaper-project', 'buckypaper-tee',
               'buckypaper-min-tcb', 'buckypaper-other', 'other']
METADATA_KEYS = st.one_of(st.sampled_from(POLICY_KEYS), st.text(max_size=20))
POLICY_VALUES = st.one_of(
    st.text(max_size=40), st.sampled_from([INSTANCE, PROJECT, 'sev-snp',
                                           'tdx', '[' * 5000]),
    fuzzing.JSON.map(json.dumps))


@fuzzing.SETTINGS
@given(st.dictionaries(METADATA_KEYS, POLICY_VALUES, max_size=5),
       st.sampled_from([PROJECT, 'project-b']))
def test_arbitrary_release_policy_metadata(metadata, project):
    try:
        policy = policy_mod.from_metadata(metadata, project)
    except policy_mod.PolicyError as exc:
        assert str(exc)
        return
    ours = [k for k in metadata if k.startswith(policy_mod.PREFIX)]
    if not ours:
        assert policy is None
        return
    assert policy.get('instance') or policy.get('project') == project
    assert set(policy) <= {'instance', 'project', 'tee', 'min_tcb'}
    assert envelope.secret_aad('id', project, policy)  # serializable


def test_deeply_nested_min_tcb_is_a_policy_error():
    for text in ('[' * 100000, '{"a":' * 100000):
        try:
            policy_mod.from_metadata({'buckypaper-instance': INSTANCE,
                                      'buckypaper-min-tcb': text}, PROJECT)
        except policy_mod.PolicyError:
            continue
        raise AssertionError('accepted %r...' % text[:10])


@fuzzing.SETTINGS
@given(st.binary(max_size=256), st.binary(max_size=32))
def test_arbitrary_envelope(blob, aad):
    try:
        envelope.open_(KEY, blob, aad)
    except envelope.EnvelopeError:
        return
    raise AssertionError('an arbitrary blob opened')


@fuzzing.SETTINGS
@given(st.binary(max_size=64), st.data())
def test_mutated_envelope(plaintext, data):
    sealed = bytearray(envelope.seal(KEY, plaintext, b'aad'))
    index = data.draw(st.integers(0, len(sealed) - 1))
    sealed[index] ^= data.draw(st.integers(1, 255))
    cut = data.draw(st.integers(0, len(sealed)))
    for blob in (bytes(sealed), bytes(sealed[:cut])):
        try:
            envelope.open_(KEY, blob, b'aad')
        except envelope.EnvelopeError:
            continue
        raise AssertionError('a mutated blob opened')


@fuzzing.SETTINGS
@given(st.binary(max_size=2048))
def test_arbitrary_tee_public_key(wire):
    try:
        suite, _ = sealing.load_public_key(wire)
    except sealing.SealingError:
        return
    assert suite in sealing.SUITES


@fuzzing.settings_for(60)
@given(st.sampled_from(sorted(PAIRS)), st.data())
def test_mutated_sealed_blob(suite, data):
    pair = PAIRS[suite]
    sealed = bytearray(sealing.seal(pair.public_bytes(), b'k' * 64,
                                    INSTANCE, 'secret'))
    index = data.draw(st.integers(0, len(sealed) - 1))
    sealed[index] ^= data.draw(st.integers(1, 255))
    cut = data.draw(st.integers(0, len(sealed)))
    for blob in (bytes(sealed), bytes(sealed[:cut])):
        try:
            pair.open(blob, INSTANCE, 'secret')
        except sealing.SealingError:
            continue
        raise AssertionError('a mutated sealed blob opened')
