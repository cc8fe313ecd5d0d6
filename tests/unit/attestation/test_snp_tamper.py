"""Tampered and arbitrary SEV-SNP evidence is never verified.

Whatever the bytes, verification either raises :class:`EvidenceError` or
returns an unverified, contraindicated result; no other exception escapes.
"""


from hypothesis import given
from hypothesis import strategies as st
import pytest

from cryptography.hazmat.primitives import serialization
from cryptography import x509

from buckypaper_os import attestation
from buckypaper_os.attestation.snp import abi
from buckypaper_os.attestation import x509util
from tests import fuzzing
from tests import vectors

_SETTINGS = fuzzing.SETTINGS
GENUINE = 'snp-milan-v2-virtee'


def _not_verified(evidence: bytes, certs, at) -> bool:
    """True when ``evidence`` is refused in one of the two allowed ways."""
    try:
        result = attestation.verify(evidence, tee='sev-snp', certs=certs,
                                    at=at)
    except attestation.EvidenceError as exc:
        assert str(exc) and '\n' not in str(exc)
        return True
    return (result.verified is False and result.status == 'contraindicated'
            and bool(result.reasons))


@vectors.needs_vectors
def test_every_signed_bit_flip_is_refused():
    case = vectors.Case(GENUINE)
    evidence, certs, at = case.evidence, case.certs, case.at
    assert attestation.verify(evidence, certs=certs, at=at).verified
    accepted = []
    for bit in range(abi.SIGNED_SIZE * 8):
        data = bytearray(evidence)
        data[bit // 8] ^= 1 << (bit % 8)
        if not _not_verified(bytes(data), certs, at):
            accepted.append(bit)
    assert accepted == []


@vectors.needs_vectors
@pytest.mark.parametrize('offset', [0x2A0, 0x2E7, 0x2E8, 0x32F])
def test_signature_flip_is_refused(offset):
    case = vectors.Case(GENUINE)
    data = bytearray(case.evidence)
    data[offset] ^= 0x80
    assert _not_verified(bytes(data), case.certs, case.at)


@_SETTINGS
@given(st.binary(min_size=abi.REPORT_SIZE - 2, max_size=abi.REPORT_SIZE + 2)
       | st.binary(max_size=2048))
def test_arbitrary_bytes(data):
    assert _not_verified(data, (), None)


@vectors.needs_vectors
@_SETTINGS
@given(st.dictionaries(st.integers(0, abi.REPORT_SIZE - 1),
                       st.integers(1, 255), min_size=1, max_size=8),
       st.sampled_from(vectors.case_names('snp-')))
def test_mutated_reports(changes, name):
    case = vectors.Case(name)
    data = bytearray(case.evidence)
    for offset, mask in changes.items():
        data[offset] ^= mask
    assert _not_verified(bytes(data), case.certs, case.at)


@vectors.needs_vectors
@_SETTINGS
@given(st.integers(0, 2), st.dictionaries(st.integers(0, 1359),
                                          st.integers(1, 255),
                                          min_size=1, max_size=4))
def test_mutated_certificate(which, changes):
    """A corrupted VCEK, ASK or ARK is unreadable, refused or ignored.

    A corrupted ASK or ARK that no longer names an AMD anchor is ignored:
    the chain is checked against the pinned anchors, so the genuine report
    still verifies. One that does name an anchor must be refused.
    """
    case = vectors.Case(GENUINE)
    ders = [c.public_bytes(serialization.Encoding.DER)
            for blob in case.certs
            for c in x509.load_pem_x509_certificates(blob)]
    der = bytearray(ders[which])
    for offset, mask in changes.items():
        der[offset % len(der)] ^= mask
    if bytes(der) == ders[which]:
        return
    original, ders[which] = ders[which], bytes(der)
    if which and not _names_same_subject(ders[which], original):
        return
    assert _not_verified(case.evidence, ders, case.at)


def _names_same_subject(der: bytes, original: bytes) -> bool:
    """True if ``der`` names the original subject, or does not read.

    An unreadable certificate must be refused.
    """
    try:
        cert = x509.load_der_x509_certificate(der)
        return cert.subject == x509.load_der_x509_certificate(
            original).subject
    except x509util.PARSE_ERRORS:
        return True
