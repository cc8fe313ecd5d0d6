"""A self-made AMD PKI and SEV-SNP reports signed under it, for tests.

Certificates and reports are made by :mod:`buckypaper_os.simulated_tee`;
:class:`FakeAmd` adds what only tests need: an ARK / ASK / ASVK per product
named exactly like AMD's, fixed validity dates, VLEKs and CRLs. Its
:meth:`FakeAmd.trust` is a trust store that accepts only this PKI.
"""

import datetime
import functools
import typing

from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.hazmat.primitives import hashes
from cryptography import x509
from cryptography.x509.oid import NameOID

from buckypaper_os.attestation.snp import abi
from buckypaper_os.attestation.snp import trust
from buckypaper_os.attestation import x509util
from buckypaper_os.simulated_tee import certificates
from buckypaper_os.simulated_tee import report as report_mod

NOT_BEFORE = datetime.datetime(2024, 1, 1, tzinfo=datetime.timezone.utc)
NOT_AFTER = datetime.datetime(2049, 1, 1, tzinfo=datetime.timezone.utc)
AT = datetime.datetime(2025, 1, 1, tzinfo=datetime.timezone.utc)
CPUID = report_mod.CPUID
TCB = report_mod.DEFAULT_TCB
CHIP_ID = bytes(range(1, 65))
pem = certificates.pem


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
              not_before: datetime.datetime = NOT_BEFORE, ca: bool = False,
              not_after: datetime.datetime = NOT_AFTER
              ) -> x509.Certificate:
    """A certificate with AMD-style names, signed the way AMD signs."""
    return certificates.certificate(
        _name(subject), key.public_key(), _name(issuer), issuer_key,
        serial=serial, not_before=not_before, not_after=not_after,
        extensions=extensions, ca=ca)


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
            ark=make_cert(ark, self.ark_key, ark, self.ark_key, 1, ca=True),
            ask=make_cert('SEV-' + product, self.ask_key, ark,
                          self.ark_key, 2, ca=True),
            asvk=make_cert('SEV-VLEK-' + product, self.asvk_key, ark,
                           self.ark_key, 3, ca=True))

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
        if kind == 'vcek' and hwid is None:
            hwid = certificates.hwid(product, CHIP_ID)
        exts = certificates.amd_extensions(
            product_name or (product + '-B0'),
            TCB[product] if tcb is None else tcb,
            hwid=hwid if kind == 'vcek' else None,
            csp_id='CN=example' if kind == 'vlek' else None)
        a = self.anchors(product)
        issuer_key = self.asvk_key if kind == 'vlek' else self.ask_key
        return make_cert('SEV-' + kind.upper(), key,
                         x509util.common_name(a.issuer(kind)), issuer_key,
                         serial, exts)

    def crl(self, product: str, revoked: typing.Sequence[int] = (),
            last_update: datetime.datetime = NOT_BEFORE,
            next_update: datetime.datetime = NOT_AFTER
            ) -> x509.CertificateRevocationList:
        """A KDS-like CRL signed by the ARK, revoking ``revoked`` serials."""
        builder = (x509.CertificateRevocationListBuilder()
                   .issuer_name(_name('ARK-' + product))
                   .last_update(last_update).next_update(next_update))
        for serial in revoked:
            builder = builder.add_revoked_certificate(
                x509.RevokedCertificateBuilder().serial_number(serial)
                .revocation_date(NOT_BEFORE).build())
        return builder.sign(self.ark_key, hashes.SHA384(),
                            rsa_padding=certificates.PSS)


def new_key() -> ec.EllipticCurvePrivateKey:
    return ec.generate_private_key(ec.SECP384R1())


def report(key: typing.Optional[ec.EllipticCurvePrivateKey], product: str,
           *, tcb: typing.Optional[dict] = None,
           chip_id: typing.Optional[bytes] = None,
           measurement: bytes = b'\x11' * 48,
           report_data: bytes = b'\x22' * 64,
           host_data: bytes = b'\x33' * 32, **fields) -> bytes:
    """A report of :func:`report_mod.build` signed with ``key`` (if any).

    Defaults: the product's :data:`TCB`, :data:`CHIP_ID` and recognizable
    measurement, report_data and host_data.
    """
    if chip_id is None:
        chip_id = certificates.hwid(product, CHIP_ID).ljust(64, b'\0')
    data = report_mod.build(
        product, tcb=TCB[product] if tcb is None else tcb, chip_id=chip_id,
        measurement=measurement, report_data=report_data,
        host_data=host_data, **fields)
    return data if key is None else report_mod.sign(data, key)
