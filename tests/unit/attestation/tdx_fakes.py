"""A test PKI that issues TDX quotes and Intel PCS v4 style collateral.

Everything is generated: a root CA, a PCK CA, a PCK certificate with the
SGX extension, a TCB signing certificate, CRLs, quotes (v4, v5 TD1.0 and
TD1.5) and signed TCB Info / QE Identity documents. Pass ``pki.trust`` to
``TDX(trust=...)`` to verify them.
"""

import dataclasses
import datetime
import functools
import hashlib
import json
import struct
import typing

from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric import utils
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives import serialization
from cryptography import x509
from cryptography.x509.oid import NameOID
from pyasn1.codec.der import encoder
from pyasn1.type import univ

from buckypaper_os.attestation import collateral_dir

AT = datetime.datetime(2025, 1, 1, tzinfo=datetime.timezone.utc)
NOT_BEFORE = datetime.datetime(2024, 1, 1, tzinfo=datetime.timezone.utc)
NOT_AFTER = datetime.datetime(2034, 1, 1, tzinfo=datetime.timezone.utc)
FMSPC = bytes.fromhex('00906ed50000')
PCE_ID = b'\0\0'
SGX_TCB = (3, 3, 2, 2, 4, 1, 0, 5) + (0,) * 8
PCE_SVN = 11
#: TEE_TCB_SVN: module SVN 6, module major 1, then TDX components.
TEE_TCB_SVN = bytes((6, 1, 3)) + bytes(13)
QE_MRSIGNER = bytes(range(32))
QE_ISVPRODID = 2
QE_ISVSVN = 4
QE_ATTRIBUTES = bytes.fromhex('11000000000000000000000000000000')
SGX_OID = '1.2.840.113741.1.13.1'
INTEL_QE_VENDOR_ID = bytes.fromhex('939a7233f79c4ca9940a0db3957f0607')
_DER = serialization.Encoding.DER
_PEM = serialization.Encoding.PEM
_X962 = serialization.Encoding.X962


def _key() -> ec.EllipticCurvePrivateKey:
    return ec.generate_private_key(ec.SECP256R1())


def _name(cn: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.ORGANIZATION_NAME,
                                         'Test Corporation'),
                      x509.NameAttribute(NameOID.COMMON_NAME, cn)])


def _cert(cn: str, key, issuer_cn: str, issuer_key, ca: bool,
          extensions=(), path_length: typing.Optional[int] = None,
          key_usage: bool = True, crl_sign: bool = True,
          signs: bool = True) -> x509.Certificate:
    """Intel-style: CAs sign certificates and CRLs, end entities sign.

    ``signs``: an end entity's digitalSignature bit.
    """
    builder = (x509.CertificateBuilder()
               .subject_name(_name(cn)).issuer_name(_name(issuer_cn))
               .public_key(key.public_key())
               .serial_number(x509.random_serial_number())
               .not_valid_before(NOT_BEFORE).not_valid_after(NOT_AFTER)
               .add_extension(x509.BasicConstraints(
                   ca=ca, path_length=path_length if ca else None),
                   critical=True))
    if key_usage:
        builder = builder.add_extension(x509.KeyUsage(
            digital_signature=not ca and signs, content_commitment=not ca,
            key_encipherment=False, data_encipherment=False,
            key_agreement=False, key_cert_sign=ca,
            crl_sign=ca and crl_sign,
            encipher_only=False, decipher_only=False), critical=True)
    for ext in extensions:
        builder = builder.add_extension(ext, critical=False)
    return builder.sign(issuer_key, hashes.SHA256())


def sgx_extension(fmspc: bytes = FMSPC, pce_id: bytes = PCE_ID,
                  sgx_tcb: typing.Sequence[int] = SGX_TCB,
                  pce_svn: int = PCE_SVN) -> bytes:
    """DER of the PCK SGX extension (PPID, TCB, PCE-ID, FMSPC, SGX type)."""
    def pair(suffix: str, value) -> univ.Sequence:
        seq = univ.Sequence()
        seq.setComponentByPosition(
            0, univ.ObjectIdentifier(SGX_OID + '.' + suffix))
        seq.setComponentByPosition(1, value)
        return seq

    def seq_of(items) -> univ.SequenceOf:
        result = univ.SequenceOf()
        for i, item in enumerate(items):
            result.setComponentByPosition(i, item)
        return result

    tcb = [pair('2.%d' % (i + 1), univ.Integer(svn))
           for i, svn in enumerate(sgx_tcb)]
    tcb.append(pair('2.17', univ.Integer(pce_svn)))
    tcb.append(pair('2.18', univ.OctetString(bytes(sgx_tcb))))
    return encoder.encode(seq_of([
        pair('1', univ.OctetString(bytes(16))), pair('2', seq_of(tcb)),
        pair('3', univ.OctetString(pce_id)),
        pair('4', univ.OctetString(fmspc)), pair('5', univ.Integer(0))]))


@dataclasses.dataclass
class Pki:
    """Keys and certificates of one test platform and its CAs."""

    root_key: ec.EllipticCurvePrivateKey
    root: x509.Certificate
    ca_key: ec.EllipticCurvePrivateKey
    ca: x509.Certificate
    pck_key: ec.EllipticCurvePrivateKey
    pck: x509.Certificate
    tcb_key: ec.EllipticCurvePrivateKey
    tcb_signer: x509.Certificate
    attestation_key: ec.EllipticCurvePrivateKey

    @property
    def trust(self) -> typing.Tuple[x509.Certificate]:
        return (self.root,)

    def chain_pem(self) -> bytes:
        return b''.join(c.public_bytes(_PEM)
                        for c in (self.pck, self.ca, self.root))

    def chain_der(self) -> bytes:
        """Concatenated DER, root first (as in Intel's sample quotes)."""
        return b''.join(c.public_bytes(_DER)
                        for c in (self.root, self.ca, self.pck))


@functools.lru_cache(maxsize=None)
def make_pki(fmspc: bytes = FMSPC, sgx_tcb: typing.Tuple[int, ...] = SGX_TCB,
             pce_svn: int = PCE_SVN,
             tcb_signer_cn: str = 'Intel SGX TCB Signing',
             pck_cn: str = 'Intel SGX PCK Certificate',
             pck_is_ca: bool = False, tcb_signer_is_ca: bool = False,
             root_path_length: int = 1,
             ca_key_usage: bool = True, ca_crl_sign: bool = True,
             pck_signs: bool = True) -> Pki:
    """A PKI whose PCK certificate carries the given platform TCB.

    The other arguments make it deviate from Intel's: the PCK leaf's CN,
    CA flag and digitalSignature bit, the TCB signer's CA flag, the root's
    path length, the PCK CA's key usage.
    """
    root_key, ca_key, pck_key, tcb_key = _key(), _key(), _key(), _key()
    root = _cert('Intel SGX Root CA', root_key, 'Intel SGX Root CA',
                 root_key, True, path_length=root_path_length)
    ca = _cert('Intel SGX PCK Platform CA', ca_key, 'Intel SGX Root CA',
               root_key, True, path_length=0, key_usage=ca_key_usage,
               crl_sign=ca_crl_sign)
    ext = x509.UnrecognizedExtension(
        x509.ObjectIdentifier(SGX_OID),
        sgx_extension(fmspc=fmspc, sgx_tcb=sgx_tcb, pce_svn=pce_svn))
    pck = _cert(pck_cn, pck_key, 'Intel SGX PCK Platform CA', ca_key,
                pck_is_ca, (ext,), signs=pck_signs)
    tcb_signer = _cert(tcb_signer_cn, tcb_key, 'Intel SGX Root CA',
                       root_key, tcb_signer_is_ca)
    return Pki(root_key, root, ca_key, ca, pck_key, pck, tcb_key,
               tcb_signer, _key())


def raw_signature(key: ec.EllipticCurvePrivateKey, data: bytes) -> bytes:
    """Deterministic (RFC 6979) ECDSA-SHA256 signature as R || S."""
    algorithm = ec.ECDSA(hashes.SHA256(), deterministic_signing=True)
    r, s = utils.decode_dss_signature(key.sign(data, algorithm))
    return r.to_bytes(32, 'big') + s.to_bytes(32, 'big')


def td_body(td_attributes: bytes = bytes(8),
            tee_tcb_svn: bytes = TEE_TCB_SVN, mr_td: bytes = b'\x11' * 48,
            report_data: bytes = b'\x22' * 64, td15: bool = False,
            mr_signer_seam: bytes = bytes(48),
            seam_attributes: bytes = bytes(8)) -> bytes:
    """A TD report body (584 bytes, or 648 for TD1.5)."""
    body = (tee_tcb_svn + b'\x33' * 48 + mr_signer_seam + seam_attributes
            + td_attributes + bytes.fromhex('e702060000000000') + mr_td
            + b'\x44' * 48 + b'\x55' * 48 + b'\x66' * 48
            + b''.join(bytes([0x70 + i]) * 48 for i in range(4))
            + report_data)
    if td15:
        body += bytes((1, 2)) + bytes(14) + b'\x77' * 48
    return body


def qe_report(pki: Pki, auth_data: bytes, isv_svn: int = QE_ISVSVN,
              mr_signer: bytes = QE_MRSIGNER,
              isv_prod_id: int = QE_ISVPRODID,
              binding_tail: bytes = bytes(32)) -> bytes:
    """A QE report binding the attestation key and ``auth_data``.

    ``binding_tail``: the REPORTDATA after the binding (zero by spec).
    """
    key = pki.attestation_key.public_key().public_bytes(
        _X962, serialization.PublicFormat.UncompressedPoint)[1:]
    report_data = hashlib.sha256(key + auth_data).digest() + binding_tail
    return (bytes(16) + struct.pack('<I', 0) + bytes(28) + QE_ATTRIBUTES
            + b'\x88' * 32 + bytes(32) + mr_signer + bytes(96)
            + struct.pack('<HH', isv_prod_id, isv_svn) + bytes(60)
            + report_data)


def make_quote(pki: Pki, version: int = 4, body: typing.Optional[bytes] = None,
               der_chain: bool = False, padding: int = 0,
               qe_isv_svn: int = QE_ISVSVN,
               qe_mr_signer: bytes = QE_MRSIGNER,
               qe_vendor_id: bytes = INTEL_QE_VENDOR_ID,
               qe_bound_auth_data: typing.Optional[bytes] = None,
               qe_binding_tail: bytes = bytes(32),
               **body_fields) -> bytes:
    """A signed quote; v5 uses body type 3 for a 648-byte (TD1.5) body.

    ``qe_bound_auth_data``: what the QE report binds instead of the
    quote's QE authentication data (a quote whose attestation key the QE
    did not vouch for).
    """
    body = body if body is not None else td_body(**body_fields)
    header = struct.pack('<HHIHH16s20s', version, 2, 0x81, 0, 0,
                         qe_vendor_id, bytes(20))
    if version == 5:
        header += struct.pack('<HI', 3 if len(body) == 648 else 2, len(body))
    signed = header + body
    auth_data = bytes(range(32))
    report = qe_report(pki, auth_data if qe_bound_auth_data is None
                       else qe_bound_auth_data, isv_svn=qe_isv_svn,
                       mr_signer=qe_mr_signer, binding_tail=qe_binding_tail)
    chain = pki.chain_der() if der_chain else pki.chain_pem() + b'\0'
    pck_data = struct.pack('<HI', 5, len(chain)) + chain
    qe_data = (report + raw_signature(pki.pck_key, report)
               + struct.pack('<H', len(auth_data)) + auth_data + pck_data)
    key = pki.attestation_key.public_key().public_bytes(
        _X962, serialization.PublicFormat.UncompressedPoint)[1:]
    sig_data = (raw_signature(pki.attestation_key, signed) + key
                + struct.pack('<HI', 6, len(qe_data)) + qe_data)
    return signed + struct.pack('<I', len(sig_data)) + sig_data + bytes(
        padding)


def _components(svns: typing.Sequence[int]) -> list:
    return [{'svn': svn} for svn in svns]


def tcb_level(status: str = 'UpToDate', sgx: typing.Sequence[int] = SGX_TCB,
              pce_svn: int = PCE_SVN,
              tdx: typing.Sequence[int] = TEE_TCB_SVN) -> dict:
    """One TCB Info level."""
    return {'tcb': {'sgxtcbcomponents': _components(sgx), 'pcesvn': pce_svn,
                    'tdxtcbcomponents': _components(tdx)},
            'tcbDate': '2024-03-13T00:00:00Z', 'tcbStatus': status}


def identity_levels(*levels: typing.Tuple[int, str]) -> list:
    """Identity TCB levels from (isvsvn, status) pairs."""
    return [{'tcb': {'isvsvn': svn}, 'tcbDate': '2024-03-13T00:00:00Z',
             'tcbStatus': status} for svn, status in levels]


def tcb_info(fmspc: bytes = FMSPC, levels: typing.Optional[list] = None,
             module_levels: typing.Optional[list] = None,
             module_id: str = 'TDX_01', **overrides) -> dict:
    """A TDX TCB Info v3 object."""
    info = {'id': 'TDX', 'version': 3, 'issueDate': '2024-12-01T00:00:00Z',
            'nextUpdate': '2025-02-01T00:00:00Z', 'fmspc': fmspc.hex().upper(),
            'pceId': '0000', 'tcbType': 0, 'tcbEvaluationDataNumber': 17,
            'tdxModule': {'mrsigner': '00' * 48, 'attributes': '00' * 8,
                          'attributesMask': 'FF' * 8},
            'tdxModuleIdentities': [{
                'id': module_id, 'mrsigner': '00' * 48,
                'attributes': '00' * 8, 'attributesMask': 'FF' * 8,
                'tcbLevels': module_levels or identity_levels(
                    (4, 'UpToDate'), (2, 'OutOfDate'))}],
            'tcbLevels': levels or [tcb_level()]}
    info.update(overrides)
    return info


def qe_identity(levels: typing.Optional[list] = None, **overrides) -> dict:
    """A TD_QE identity v2 object."""
    identity = {'id': 'TD_QE', 'version': 2,
                'issueDate': '2024-12-01T00:00:00Z',
                'nextUpdate': '2025-02-01T00:00:00Z',
                'tcbEvaluationDataNumber': 17, 'miscselect': '00000000',
                'miscselectMask': 'FFFFFFFF',
                'attributes': QE_ATTRIBUTES.hex(),
                'attributesMask': 'FBFFFFFFFFFFFFFF0000000000000000',
                'mrsigner': QE_MRSIGNER.hex().upper(),
                'isvprodid': QE_ISVPRODID,
                'tcbLevels': levels or identity_levels((4, 'UpToDate'))}
    identity.update(overrides)
    return identity


def signed_body(key: str, inner: dict, signer: ec.EllipticCurvePrivateKey,
                indent: typing.Optional[int] = None) -> bytes:
    """A PCS response body whose signature covers the inner bytes."""
    raw = json.dumps(inner, indent=indent).encode()
    signature = raw_signature(signer, raw).hex()
    return b'{"%s":%s,"signature":"%s"}\n' % (key.encode(), raw,
                                              signature.encode())


def crl(issuer: x509.Certificate, key: ec.EllipticCurvePrivateKey,
        revoked: typing.Sequence[x509.Certificate] = ()) -> bytes:
    """A DER CRL of ``issuer`` listing ``revoked``."""
    builder = (x509.CertificateRevocationListBuilder()
               .issuer_name(issuer.subject)
               .last_update(NOT_BEFORE)
               .next_update(NOT_AFTER))
    for cert in revoked:
        builder = builder.add_revoked_certificate(
            x509.RevokedCertificateBuilder()
            .serial_number(cert.serial_number)
            .revocation_date(NOT_BEFORE).build())
    return builder.sign(key, hashes.SHA256()).public_bytes(_DER)


def collateral_files(pki: Pki, tcb: typing.Optional[dict] = None,
                     qe: typing.Optional[dict] = None,
                     revoked_pck: bool = False) -> typing.Dict[str, bytes]:
    """The seven collateral files for ``pki``."""
    signer_chain = pki.tcb_signer.public_bytes(_PEM) + pki.root.public_bytes(
        _PEM)
    return {
        'tcb_info.json': signed_body('tcbInfo', tcb or tcb_info(),
                                     pki.tcb_key, indent=1),
        'tcb_info_issuer_chain.pem': signer_chain,
        'qe_identity.json': signed_body('enclaveIdentity',
                                        qe or qe_identity(), pki.tcb_key),
        'qe_identity_issuer_chain.pem': signer_chain,
        'pck_crl.der': crl(pki.ca, pki.ca_key,
                           [pki.pck] if revoked_pck else []),
        'pck_crl_issuer_chain.pem': pki.ca.public_bytes(_PEM)
        + pki.root.public_bytes(_PEM),
        'root_ca_crl.der': crl(pki.root, pki.root_key),
    }


def collateral(pki: Pki, **kwargs) -> collateral_dir.MemoryCollateral:
    """In-memory collateral for ``pki`` (see :func:`collateral_files`)."""
    return collateral_dir.MemoryCollateral(collateral_files(pki, **kwargs))
