"""Arbitrary and mutated input through the public entry point.

Whatever the bytes, :func:`verify` either raises the one documented
:class:`EvidenceError` or returns an unverified, contraindicated result.
"""

import datetime

from hypothesis import given
from hypothesis import strategies as st
import pytest

from buckypaper_os import attestation
from tests import fuzzing
from tests import vectors

_SETTINGS = fuzzing.SETTINGS


def _refused(evidence: bytes, **kwargs) -> None:
    try:
        result = attestation.verify(evidence, **kwargs)
    except attestation.EvidenceError as exc:
        assert str(exc) and '\n' not in str(exc)
        return
    assert result.verified is False
    assert result.status == 'contraindicated'
    assert result.reasons


@_SETTINGS
@given(st.binary(max_size=8192), st.sampled_from([None, 'sev-snp', 'tdx']))
def test_arbitrary_bytes(data, tee):
    _refused(data, tee=tee)


def _mutations(case_prefix: str):
    names = vectors.case_names(case_prefix)
    return [(name, vectors.Case(name)) for name in names
            if vectors.Case(name).expected['verified']]


@vectors.needs_vectors
@pytest.mark.parametrize('name, case', _mutations(''))
def test_mutated_real_evidence(name, case):
    original = case.evidence
    span = len(original)
    if case.expected['tee'] == 'tdx':
        span = fuzzing.TDX_SIGNED_PREFIX

    @_SETTINGS
    @given(st.lists(st.tuples(st.integers(0, span - 1),
                              st.integers(1, 255)), min_size=1, max_size=8),
           st.one_of(st.none(), st.integers(1, span - 1)))
    def check(xors, cut):
        data = bytearray(original)
        for index, mask in xors:
            data[index] ^= mask
        if cut is not None:
            data = data[:cut]
        elif data == original:
            return
        _refused(bytes(data), certs=case.certs, collateral=case.collateral,
                 at=case.at)

    check()


@pytest.mark.parametrize('kwargs, message', [
    ({'certs': [b'x'] * 9}, 'more than 8 certificate blobs'),
    ({'certs': ['pem text']}, 'certificate must be bytes'),
    ({'certs': [b'x' * (attestation.MAX_EVIDENCE_SIZE + 1)]}, 'exceeds'),
    ({'at': '2024-01-01'}, 'must be a datetime'),
    ({'at': datetime.datetime(1, 1, 1, tzinfo=datetime.timezone(
        datetime.timedelta(hours=1)))}, 'out of range'),
])
def test_unusable_arguments(kwargs, message):
    with pytest.raises(attestation.EvidenceError, match=message):
        attestation.verify(b'\x02' + bytes(1183), **kwargs)


def test_collateral_may_be_a_path(tmp_path):
    result = attestation.verify(b'\x02' + bytes(1183), collateral=tmp_path)
    assert result.status == 'contraindicated'
