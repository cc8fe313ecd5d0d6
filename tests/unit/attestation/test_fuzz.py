"""Arbitrary and mutated input through the public entry point.

Whatever the bytes, :func:`verify` either raises the one documented
:class:`EvidenceError` or returns an unverified, contraindicated result.
"""

import os

from hypothesis import given
from hypothesis import HealthCheck
from hypothesis import settings
from hypothesis import strategies as st
import pytest

from buckypaper_os import attestation
from tests import vectors

_SETTINGS = settings(max_examples=int(os.environ.get('FUZZ_EXAMPLES', 300)),
                     deadline=None,
                     suppress_health_check=[HealthCheck.too_slow])


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


#: Bytes of a v4 quote that are signed or are signatures: header and body,
#: quote signature and attestation key, certification data header, QE report
#: and its signature. Past them, PEM text may change without changing the
#: certificates it encodes.
TDX_SIGNED_PREFIX = 48 + 584 + 4 + 64 + 64 + 6 + 384 + 64


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
        span = TDX_SIGNED_PREFIX

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
