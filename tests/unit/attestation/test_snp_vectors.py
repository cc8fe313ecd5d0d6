"""Every SEV-SNP vector case gives exactly its expected verdict."""

from cryptography.hazmat.primitives import serialization
from cryptography import x509
import pytest

from buckypaper_os import attestation
from tests import vectors

CASES = vectors.case_names('snp-')


@vectors.needs_vectors
@pytest.mark.parametrize('tee', ['sev-snp', None])
@pytest.mark.parametrize('name', CASES)
def test_vector(name, tee):
    case = vectors.Case(name)
    expected = case.expected
    if expected['kind'] == 'malformed':
        with pytest.raises(attestation.EvidenceError):
            attestation.verify(case.evidence, tee=tee, certs=case.certs,
                               at=case.at)
        return
    result = attestation.verify(case.evidence, tee=tee, certs=case.certs,
                                at=case.at)
    assert result.tee == 'sev-snp'
    assert result.verified is expected['verified'], result.reasons
    assert result.status == expected['expect_status'], result.reasons
    assert result.claims == expected['claims']
    assert result.tcb == expected['claims']['reported_tcb']
    assert result.tcb_status == expected.get('tcb_status')
    if expected['verified'] and not expected['debug']:
        assert result.reasons == []


@vectors.needs_vectors
@pytest.mark.parametrize('name', CASES)
def test_vector_from_collateral_dir(name):
    """The case directory itself works as collateral (vcek.pem, ...)."""
    case = vectors.Case(name)
    if case.expected['kind'] == 'malformed':
        pytest.skip('malformed evidence')
    result = attestation.verify(case.evidence, collateral=case.path,
                                at=case.at)
    assert result.verified is case.expected['verified']
    assert result.claims == case.expected['claims']


@vectors.needs_vectors
def test_stale_certificate_outside_validity():
    case = vectors.Case('snp-milan-v2-virtee')
    at = case.at.replace(year=2060)
    result = attestation.verify(case.evidence, certs=case.certs, at=at)
    assert result.verified
    assert result.status == 'contraindicated'
    assert any('expired' in r for r in result.reasons)
    lenient = attestation.Policy(check_validity=False)
    assert attestation.verify(case.evidence, certs=case.certs, at=at,
                              policy=lenient).status == 'affirming'


@vectors.needs_vectors
def test_no_certificate_is_contraindicated():
    case = vectors.Case('snp-milan-v2-virtee')
    result = attestation.verify(case.evidence, at=case.at)
    assert not result.verified
    assert result.status == 'contraindicated'
    assert 'no VCEK certificate for the report' in result.reasons
    assert result.claims['product'] is None  # v2: product from the VCEK


@vectors.needs_vectors
def test_unreadable_certificate_is_evidence_error():
    case = vectors.Case('snp-milan-v2-virtee')
    with pytest.raises(attestation.EvidenceError, match='certificate'):
        attestation.verify(case.evidence, certs=[b'not a certificate'],
                           at=case.at)


@vectors.needs_vectors
def test_der_signing_certificate_in_collateral_dir(tmp_path):
    case = vectors.Case('snp-milan-v3-vlek')
    (vlek,) = x509.load_pem_x509_certificates(case.read('vlek.pem'))
    (tmp_path / 'vlek.der').write_bytes(
        vlek.public_bytes(serialization.Encoding.DER))
    (tmp_path / 'cert_chain.pem').write_bytes(case.read('cert_chain.pem'))
    result = attestation.verify(case.evidence, collateral=str(tmp_path),
                                at=case.at)
    assert result.verified, result.reasons
    assert result.status == 'affirming'
