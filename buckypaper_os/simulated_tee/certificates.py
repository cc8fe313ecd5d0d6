"""Certificates the way AMD's KDS makes them.

RSASSA-PSS SHA-384 signatures by RSA-4096 CAs, and VCEK / VLEK
certificates carrying AMD's extensions (see
:mod:`buckypaper_os.attestation.snp.certs`).
"""

import datetime
import typing

from cryptography.hazmat.primitives.asymmetric import padding
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives import serialization
from cryptography import x509
from pyasn1.codec.der import encoder
from pyasn1.type import char
from pyasn1.type import univ

from buckypaper_os.attestation.snp import abi
from buckypaper_os.attestation.snp import certs

#: AMD's signature padding: PSS with MGF1-SHA-384 and a 48-byte salt.
PSS = padding.PSS(mgf=padding.MGF1(hashes.SHA384()), salt_length=48)


def certificate(subject: x509.Name, public_key, issuer: x509.Name,
                issuer_key: rsa.RSAPrivateKey, *, serial: int,
                not_before: datetime.datetime,
                not_after: datetime.datetime,
                extensions: typing.Sequence[x509.ExtensionType] = (),
                ca: bool = False) -> x509.Certificate:
    """A certificate signed with RSASSA-PSS SHA-384.

    ``extensions`` are added non-critical; a ``ca`` gets AMD's critical
    basic constraints and key usage (certificate and CRL signing).
    """
    builder = (x509.CertificateBuilder()
               .subject_name(subject).issuer_name(issuer)
               .public_key(public_key).serial_number(serial)
               .not_valid_before(not_before).not_valid_after(not_after))
    if ca:
        builder = builder.add_extension(
            x509.BasicConstraints(ca=True, path_length=None), critical=True)
        builder = builder.add_extension(x509.KeyUsage(
            digital_signature=False, content_commitment=False,
            key_encipherment=False, data_encipherment=False,
            key_agreement=False, key_cert_sign=True, crl_sign=True,
            encipher_only=False, decipher_only=False), critical=True)
    for ext in extensions:
        builder = builder.add_extension(ext, critical=False)
    return builder.sign(issuer_key, hashes.SHA384(), rsa_padding=PSS)


def amd_extensions(product_name: str, tcb: typing.Mapping[str, int], *,
                   hwid: typing.Optional[bytes] = None,
                   csp_id: typing.Optional[str] = None
                   ) -> typing.List[x509.UnrecognizedExtension]:
    """structVersion, productName, the SPLs and hwID (VCEK) or cspId (VLEK).

    ``product_name`` is e.g. "Milan-B0"; ``tcb`` holds the components of
    the product's TCB_VERSION (:func:`abi.decode_tcb`).
    """
    exts = [_ext(certs.STRUCT_VERSION, univ.Integer(0)),
            _ext(certs.PRODUCT_NAME, char.IA5String(product_name))]
    exts += [_ext(certs.SPL_OIDS[c], univ.Integer(v)) for c, v in tcb.items()]
    if hwid is not None:
        exts.append(_ext(certs.HWID, hwid))
    if csp_id is not None:
        exts.append(_ext(certs.CSP_ID, char.IA5String(csp_id)))
    return exts


def hwid(product: str, chip_id: bytes) -> bytes:
    """The VCEK hwID of a chip: its CHIP_ID (the first 8 bytes on Turin)."""
    return chip_id[:8] if product == abi.TURIN else chip_id


def pem(*certificates: x509.Certificate) -> bytes:
    """A PEM bundle of ``certificates``, in order."""
    return b''.join(c.public_bytes(serialization.Encoding.PEM)
                    for c in certificates)


def _ext(oid: str, value) -> x509.UnrecognizedExtension:
    """An extension whose value is raw bytes or a DER-encoded ASN.1 value."""
    raw = value if isinstance(value, bytes) else encoder.encode(value)
    return x509.UnrecognizedExtension(x509.ObjectIdentifier(oid), raw)
