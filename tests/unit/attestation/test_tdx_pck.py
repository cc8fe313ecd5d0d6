"""The PCK certificate chain and SGX extension parser, refusing."""

from cryptography.hazmat.primitives import serialization
from cryptography import x509
from pyasn1.codec.der import decoder
from pyasn1.codec.der import encoder
import pytest

from buckypaper_os.attestation import errors
from buckypaper_os.attestation.tdx import pck
from tests.unit.attestation import tdx_fakes as fakes

DER = serialization.Encoding.DER


@pytest.fixture(scope='module')
def pki():
    return fakes.make_pki()


def _der(*certs) -> bytes:
    return b''.join(c.public_bytes(DER) for c in certs)


def test_the_leaf_and_its_issuers_in_any_order(pki):
    parsed = pck.chain(_der(pki.ca, pki.root, pki.pck))
    assert parsed.leaf == pki.pck
    assert parsed.issuers == (pki.ca, pki.root)
    assert parsed.extensions.fmspc == fakes.FMSPC


def test_two_leaves(pki):
    other = fakes.make_pki(pce_svn=fakes.PCE_SVN + 1)
    with pytest.raises(errors.EvidenceError, match='has 2 leaf'):
        pck.chain(_der(pki.pck, other.pck, pki.ca, pki.root))


def test_two_issuers_of_one_name(pki):
    """Another CA of the same name: not one chain, whichever is real."""
    other = fakes.make_pki(pce_svn=fakes.PCE_SVN + 1)
    with pytest.raises(errors.EvidenceError, match='do not form one chain'):
        pck.chain(_der(pki.pck, pki.ca, other.ca, pki.root))


def test_truncated_der(pki):
    with pytest.raises(errors.EvidenceError, match='truncated DER'):
        pck.certificates(pki.chain_der()[:-1])


def _with_extension(pki, der: bytes) -> x509.Certificate:
    return fakes._cert('Intel SGX PCK Certificate', pki.pck_key,
                       'Intel SGX PCK Platform CA', pki.ca_key, False,
                       (x509.UnrecognizedExtension(
                           x509.ObjectIdentifier(fakes.SGX_OID), der),))


def _duplicated_fmspc() -> bytes:
    """The extension with its FMSPC pair twice (the second one zero)."""
    value = fakes.sgx_extension()
    top = decoder.decode(value)[0]
    twin = top[3].clone()
    twin.setComponentByPosition(0, top[3][0])
    twin.setComponentByPosition(1, type(top[3][1])(bytes(6)))
    top.setComponentByPosition(len(top), twin)
    return encoder.encode(top)


@pytest.mark.parametrize('der', [
    fakes.sgx_extension() + b'\0',           # trailing bytes
    fakes.sgx_extension(fmspc=bytes(5)),     # FMSPC is 6 octets
    fakes.sgx_extension(pce_id=bytes(3)),    # PCE-ID is 2
    _duplicated_fmspc(),
], ids=['trailing', 'fmspc-size', 'pce-id-size', 'duplicate-oid'])
def test_malformed_sgx_extension(pki, der):
    with pytest.raises(errors.EvidenceError,
                       match='PCK SGX extension is malformed'):
        pck.extensions(_with_extension(pki, der))
