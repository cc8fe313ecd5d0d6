"""Certificate and CRL loading: strict, eager and cached."""

import datetime

from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric import ed25519
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives import serialization
from cryptography import x509
import pytest

from buckypaper_os.attestation import errors
from buckypaper_os.attestation import roots
from buckypaper_os.attestation import x509util
from tests.unit.attestation import tdx_fakes
from tests import vectors


def _with_unused_bits(der: bytes, signature: bytes) -> bytes:
    """``der`` claiming one unused bit in its signature BIT STRING."""
    data = bytearray(der)
    data[-len(signature) - 1] = 1
    return bytes(data)


@vectors.needs_vectors
def test_signature_with_unused_bits_is_refused():
    (vcek,) = x509.load_pem_x509_certificates(
        vectors.Case('snp-milan-v2-virtee').read('vcek.pem'))
    der = _with_unused_bits(vcek.public_bytes(serialization.Encoding.DER),
                            vcek.signature)
    # cryptography reads it, with the same TBS and signature bytes ...
    same = x509.load_der_x509_certificate(der)
    assert same.signature == vcek.signature
    assert same.tbs_certificate_bytes == vcek.tbs_certificate_bytes
    # ... but it is not the encoding AMD signed.
    with pytest.raises(errors.EvidenceError, match='whole number of octets'):
        x509util.load_certificates(der)


@vectors.needs_vectors
def test_outer_signature_algorithm_must_equal_the_signed_one():
    """A VCEK whose unsigned RSASSA-PSS trailerField was changed."""
    (vcek,) = x509.load_pem_x509_certificates(
        vectors.Case('snp-milan-v2-virtee').read('vcek.pem'))
    der = bytearray(vcek.public_bytes(serialization.Encoding.DER))
    # ... a3 03 02 01 01 (trailerField 1) | 03 82 02 01 00 <signature>
    trailer = len(der) - len(vcek.signature) - 6
    assert der[trailer - 4:trailer + 1] == b'\xa3\x03\x02\x01\x01'
    der[trailer] = 0
    assert (x509.load_der_x509_certificate(bytes(der)).tbs_certificate_bytes
            == vcek.tbs_certificate_bytes)
    with pytest.raises(errors.EvidenceError,
                       match='signature algorithm differs'):
        x509util.load_certificates(bytes(der))


@vectors.needs_vectors
def test_crl_signature_with_unused_bits_is_refused():
    data = vectors.Case('tdx-v4-uptodate').read('pck_crl.der')
    crl = x509.load_der_x509_crl(data)
    with pytest.raises(errors.EvidenceError, match='PCK CRL'):
        x509util.load_crl(_with_unused_bits(data, crl.signature), 'PCK CRL')


def test_unreadable_certificate_and_crl():
    with pytest.raises(errors.EvidenceError, match='unreadable certificate'):
        x509util.load_certificates(b'\x30\x03\x02\x01\x00')
    with pytest.raises(errors.EvidenceError, match='unreadable CRL'):
        x509util.load_crl(b'-----BEGIN X509 CRL-----\nAA==\n')


def test_signed_by_checks_name_and_signature():
    ark = roots.amd('ark', 'Milan')
    ask = roots.amd('ask', 'Milan')
    assert x509util.signed_by(ask, ark)
    assert x509util.signed_by(ark, ark)
    assert not x509util.signed_by(ark, ask)
    assert not x509util.signed_by(roots.amd('ask', 'Genoa'), ark)


def test_crl_without_next_update_is_stale():
    class Crl:  # cryptography cannot build one; the checks read only these
        last_update_utc = datetime.datetime(2025, 1, 1,
                                            tzinfo=datetime.timezone.utc)
        next_update_utc = None

    at = datetime.datetime(2025, 1, 2, tzinfo=datetime.timezone.utc)
    assert x509util.stale_crl(Crl(), 'ARK CRL', at) == \
        'ARK CRL has no nextUpdate'


def test_only_rsa_and_ec_keys_verify():
    """An issuer key of another kind verifies nothing, whatever it is."""
    key = ed25519.Ed25519PrivateKey.generate()
    data = b'tbs'
    assert not x509util.verify_signature(key.public_key(), key.sign(data),
                                         data, None, None)


def test_a_valid_signature_under_another_name_is_not_issuance():
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca = tdx_fakes._cert('CA one', ca_key, 'CA one', ca_key, True)
    child = tdx_fakes._cert('leaf', ec.generate_private_key(ec.SECP256R1()),
                            'CA two', ca_key, False)
    assert ca.public_key().verify(
        child.signature, child.tbs_certificate_bytes,
        ec.ECDSA(child.signature_hash_algorithm)) is None
    assert not x509util.signed_by(child, ca)
    crl = (x509.CertificateRevocationListBuilder()
           .issuer_name(child.issuer)
           .last_update(tdx_fakes.NOT_BEFORE)
           .next_update(tdx_fakes.NOT_AFTER)
           .sign(ca_key, hashes.SHA256()))
    assert crl.is_signature_valid(ca.public_key())
    assert not x509util.crl_signed_by(crl, ca)


def test_validity_ends_at_not_after():
    cert = roots.amd('ark', 'Milan')
    end = cert.not_valid_after_utc
    assert x509util.stale_certificate(cert, end) is None
    assert 'expired' in x509util.stale_certificate(
        cert, end + datetime.timedelta(seconds=1))
