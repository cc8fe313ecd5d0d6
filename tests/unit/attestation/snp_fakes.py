"""A self-made AMD PKI and SEV-SNP reports signed under it, for tests.

:class:`FakeAmd` makes an ARK / ASK / ASVK per product (RSA-4096,
RSASSA-PSS SHA-384, named like AMD's) and VCEK / VLEK certificates with
AMD's extensions; :func:`report` builds and signs an ATTESTATION_REPORT.
Its :meth:`FakeAmd.trust` is a trust store that accepts only this PKI.
"""

import datetime
import functools
import struct
import typing

from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric import padding
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.hazmat.primitives.asymmetric import utils
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives import serialization
from cryptography import x509
from cryptography.x509.oid import NameOID
from pyasn1.codec.der import encoder
from pyasn1.type import char
from pyasn1.type import univ

from buckypaper_os.attestation.snp import abi
from buckypaper_os.attestation.snp import certs as certs_mod
from buckypaper_os.attestation.snp import trust
from buckypaper_os.attestation import x509util

PSS = padding.PSS(mgf=padding.MGF1(hashes.SHA384()), salt_length=48)
NOT_BEFORE = datetime.datetime(2024, 1, 1, tzinfo=datetime.timezone.utc)
NOT_AFTER = datetime.datetime(2049, 1, 1, tzinfo=datetime.timezone.utc)
AT = datetime.datetime(2025, 1, 1, tzinfo=datetime.timezone.utc)
#: CPUID family, model, stepping per product (v3+ reports).
CPUID = {abi.MILAN: (0x19, 0x01, 0x01), abi.GENOA: (0x19, 0x11, 0x01),
         abi.TURIN: (0x1A, 0x02, 0x00)}
TCB = {abi.MILAN: {'bl': 3, 'tee': 0, 'snp': 8, 'ucode': 115},
       abi.GENOA: {'bl': 10, 'tee': 0, 'snp': 23, 'ucode': 84},
       abi.TURIN: {'fmc': 1, 'bl': 2, 'tee': 3, 'snp': 4, 'ucode': 72}}
CHIP_ID = bytes(range(1, 65))


@functools.lru_cache(maxsize=None)
def _rsa_key(label: str) -> rsa.RSAPrivateKey:
    """One RSA-4096 key per label per test session (they are slow)."""
    return rsa.generate_private_key(public_exponent=65537, key_size=4096)


def _name(cn: str) -> x509.Name:
    return x509.Name([
        x509.NameAttribute(NameOID.ORGANIZATIONAL_UNIT_NAME, 'Engineering'),
        x509.NameAttribute(NameOID.COUNTRY_NAME, 'US'),
        x509.NameAttribute(NameOID.LOCALITY_NAME, 'Santa Clara'),
        x509.NameAttribute(NameOID.STATE_OR_PROVINCE_NAME, 'CA'),
        x509.NameAttribute(NameOID.ORGANIZATION_NAME,
                           'Advanced Micro Devices'),
        x509.NameAttribute(NameOID.COMMON_NAME, cn)])


def make_cert(subject: str, key, issuer: str, issuer_key, serial: int,
              extensions: typing.Sequence[x509.ExtensionType] = (),
              not_before: datetime.datetime = NOT_BEFORE
              ) -> x509.Certificate:
    """A certificate signed the way AMD signs (RSASSA-PSS, SHA-384)."""
    builder = (x509.CertificateBuilder()
               .subject_name(_name(subject)).issuer_name(_name(issuer))
               .public_key(key.public_key()).serial_number(serial)
               .not_valid_before(not_before).not_valid_after(NOT_AFTER))
    for ext in extensions:
        builder = builder.add_extension(ext, critical=False)
    return builder.sign(issuer_key, hashes.SHA384(), rsa_padding=PSS)


def _ext(oid: str, value) -> x509.UnrecognizedExtension:
    raw = value if isinstance(value, bytes) else encoder.encode(value)
    return x509.UnrecognizedExtension(x509.ObjectIdentifier(oid), raw)


def pem(*certs: x509.Certificate) -> bytes:
    """A PEM bundle of ``certs``."""
    return b''.join(c.public_bytes(serialization.Encoding.PEM)
                    for c in certs)


class FakeAmd:
    """An AMD-like PKI; ``label`` separates independent PKIs."""

    def __init__(self, label: str = 'fake') -> None:
        self.label = label
        self.ark_key = _rsa_key(label + '-ark')
        self.ask_key = _rsa_key(label + '-ask')
        self.asvk_key = _rsa_key(label + '-asvk')

    @functools.lru_cache(maxsize=None)
    def anchors(self, product: str) -> trust.Anchors:
        """ARK-<product>, SEV-<product> and SEV-VLEK-<product>."""
        ark = 'ARK-' + product
        return trust.Anchors(
            ark=make_cert(ark, self.ark_key, ark, self.ark_key, 1),
            ask=make_cert('SEV-' + product, self.ask_key, ark,
                          self.ark_key, 2),
            asvk=make_cert('SEV-VLEK-' + product, self.asvk_key, ark,
                           self.ark_key, 3))

    def trust(self) -> trust.TrustStore:
        """A trust store holding only this PKI."""
        return trust.TrustStore({p: self.anchors(p) for p in abi.PRODUCTS})

    def chain(self, product: str, kind: str = 'vcek') -> bytes:
        """The KDS ``cert_chain``: ASK (or ASVK) then ARK, PEM."""
        a = self.anchors(product)
        return pem(a.issuer(kind), a.ark)

    def signing_cert(self, key: ec.EllipticCurvePrivateKey, product: str,
                     *, kind: str = 'vcek',
                     tcb: typing.Optional[dict] = None,
                     hwid: typing.Optional[bytes] = None,
                     product_name: typing.Optional[str] = None,
                     serial: int = 100) -> x509.Certificate:
        """A VCEK (or VLEK) for ``key`` with AMD's extensions."""
        tcb = TCB[product] if tcb is None else tcb
        name = product_name or (product + '-B0')
        exts = [_ext(certs_mod.STRUCT_VERSION, univ.Integer(0)),
                _ext(certs_mod.PRODUCT_NAME, char.IA5String(name))]
        exts += [_ext(certs_mod.SPL_OIDS[c], univ.Integer(v))
                 for c, v in tcb.items()]
        if kind == 'vlek':
            exts.append(_ext(certs_mod.CSP_ID, char.IA5String('CN=example')))
        else:
            if hwid is None:
                hwid = CHIP_ID[:8] if product == abi.TURIN else CHIP_ID
            exts.append(_ext(certs_mod.HWID, hwid))
        a = self.anchors(product)
        issuer_key = self.asvk_key if kind == 'vlek' else self.ask_key
        return make_cert('SEV-' + kind.upper(), key,
                         x509util.common_name(a.issuer(kind)), issuer_key,
                         serial, exts)

    def crl(self, product: str, revoked: typing.Sequence[int] = ()
            ) -> x509.CertificateRevocationList:
        """A KDS-like CRL signed by the ARK, revoking ``revoked`` serials."""
        builder = (x509.CertificateRevocationListBuilder()
                   .issuer_name(_name('ARK-' + product))
                   .last_update(NOT_BEFORE).next_update(NOT_AFTER))
        for serial in revoked:
            builder = builder.add_revoked_certificate(
                x509.RevokedCertificateBuilder().serial_number(serial)
                .revocation_date(NOT_BEFORE).build())
        return builder.sign(self.ark_key, hashes.SHA384(), rsa_padding=PSS)


def new_key() -> ec.EllipticCurvePrivateKey:
    return ec.generate_private_key(ec.SECP384R1())


def encode_tcb(tcb: typing.Mapping[str, int], product: str) -> int:
    """TCB_VERSION from components (inverse of :func:`abi.decode_tcb`)."""
    b = bytearray(8)
    if product == abi.TURIN:
        b[0], b[1], b[2], b[3] = tcb['fmc'], tcb['bl'], tcb['tee'], tcb['snp']
    else:
        b[0], b[1], b[6] = tcb['bl'], tcb['tee'], tcb['snp']
    b[7] = tcb['ucode']
    return int.from_bytes(b, 'little')


def report(key: typing.Optional[ec.EllipticCurvePrivateKey], product: str,
           *, version: int = 3, signing_key: int = 0, policy: int = 0x30000,
           vmpl: int = 0, tcb: typing.Optional[dict] = None,
           chip_id: typing.Optional[bytes] = None,
           measurement: bytes = b'\x11' * 48,
           report_data: bytes = b'\x22' * 64,
           host_data: bytes = b'\x33' * 32) -> bytes:
    """An ATTESTATION_REPORT signed with ``key`` (unsigned if None)."""
    tcb_value = encode_tcb(TCB[product] if tcb is None else tcb, product)
    if chip_id is None:
        chip_id = (CHIP_ID[:8] + bytes(56) if product == abi.TURIN
                   else CHIP_ID)
    data = bytearray(abi.REPORT_SIZE)
    struct.pack_into('<IIQ', data, 0, version, 1, policy)
    struct.pack_into('<IIQQI', data, 0x30, vmpl, abi.ECDSA_P384_SHA384,
                     tcb_value, 0, signing_key << 2)
    data[0x50:0x90] = report_data
    data[0x90:0xC0] = measurement
    data[0xC0:0xE0] = host_data
    for offset in (0x180, 0x1E0, 0x1F0, 0x38):
        struct.pack_into('<Q', data, offset, tcb_value)
    if version >= 3:
        data[0x188:0x18B] = bytes(CPUID[product])
    data[0x1A0:0x1E0] = chip_id
    if version >= 5:
        struct.pack_into('<QQ', data, 0x1F8, 0b101, 0b111)
    if key is not None:
        der = key.sign(bytes(data[:abi.SIGNED_SIZE]),
                       ec.ECDSA(hashes.SHA384()))
        r, s = utils.decode_dss_signature(der)
        data[0x2A0:0x2E8] = r.to_bytes(72, 'little')
        data[0x2E8:0x330] = s.to_bytes(72, 'little')
    return bytes(data)
