"""AMD VCEK / VLEK certificates and their X.509 extensions.

AMD's KDS puts the chip's identity and TCB into extensions under
1.3.6.1.4.1.3704.1 (AMD "Versioned Chip Endorsement Key" specification):
structVersion (.1), productName (.2, e.g. "Milan-B0"), the SPL of each TCB
component (.3.x), hwID (.4, VCEK only) and cspId (.5, VLEK only).
"""

import dataclasses
import functools
import typing

from cryptography import exceptions
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives import serialization
from cryptography import x509
from pyasn1.codec.der import decoder
from pyasn1.error import PyAsn1Error
from pyasn1.type import char
from pyasn1.type import univ

from buckypaper_os.attestation.snp import abi

_AMD = '1.3.6.1.4.1.3704.1.'
STRUCT_VERSION = _AMD + '1'
PRODUCT_NAME = _AMD + '2'
HWID = _AMD + '4'
CSP_ID = _AMD + '5'
#: TCB component -> OID of its SPL extension.
SPL_OIDS = {'bl': _AMD + '3.1', 'tee': _AMD + '3.2', 'snp': _AMD + '3.3',
            'ucode': _AMD + '3.8', 'fmc': _AMD + '3.9'}


@dataclasses.dataclass(frozen=True)
class SigningCert:
    """What verification needs from one VCEK or VLEK, parsed once."""

    cert: x509.Certificate
    der: bytes
    kind: str                              # "vcek" or "vlek"
    product: typing.Optional[str]          # "Milan" from "Milan-B0"
    tcb: typing.Mapping[str, int]
    hwid: typing.Optional[bytes]
    public_key: typing.Optional[ec.EllipticCurvePublicKey]


def is_signing_cert(cert: x509.Certificate) -> bool:
    """True for a certificate that carries AMD TCB extensions."""
    return bool(_extensions(cert.public_bytes(serialization.Encoding.DER)))


def signing_cert(cert: x509.Certificate) -> SigningCert:
    """The parsed VCEK / VLEK (cached by the certificate's DER)."""
    return _signing_cert(cert.public_bytes(serialization.Encoding.DER))


@functools.lru_cache(maxsize=1024)
def _signing_cert(der: bytes) -> SigningCert:
    cert = x509.load_der_x509_certificate(der)
    ext = _extensions(der)
    try:
        key = cert.public_key()
    except (ValueError, exceptions.UnsupportedAlgorithm):
        key = None
    if not (isinstance(key, ec.EllipticCurvePublicKey)
            and isinstance(key.curve, ec.SECP384R1)):
        key = None
    name = _decode(ext.get(PRODUCT_NAME), char.IA5String(), str)
    tcb = {}
    for component, oid in SPL_OIDS.items():
        value = _decode(ext.get(oid), univ.Integer(), int)
        if value is not None:
            tcb[component] = value
    return SigningCert(
        cert=cert, der=der, kind='vlek' if CSP_ID in ext else 'vcek',
        product=_product(name) if name is not None else None,
        tcb=tcb, hwid=_hwid(ext.get(HWID)), public_key=key)


@functools.lru_cache(maxsize=1024)
def _extensions(der: bytes) -> typing.Dict[str, bytes]:
    cert = x509.load_der_x509_certificate(der)
    return {e.oid.dotted_string: e.value.value for e in cert.extensions
            if e.oid.dotted_string.startswith(_AMD)
            and isinstance(e.value, x509.UnrecognizedExtension)}


def _decode(value: typing.Optional[bytes], spec, convert):
    """``convert`` of a DER value of type ``spec``; None if bad or absent."""
    if value is None:
        return None
    try:
        decoded, rest = decoder.decode(value, asn1Spec=spec)
        return None if rest else convert(decoded)
    except (PyAsn1Error, UnicodeError):
        return None


def _product(name: str) -> typing.Optional[str]:
    """"Milan-B0" -> "Milan"; None for anything that is not a product."""
    base = name.split('-', 1)[0]
    return base if base in abi.PRODUCTS else None


def _hwid(value: typing.Optional[bytes]) -> typing.Optional[bytes]:
    """hwID: raw bytes (64, or 8 on Turin), or an OCTET STRING of them."""
    if value is None or len(value) in (8, 64):
        return value
    decoded = _decode(value, univ.OctetString(), bytes)
    return value if decoded is None else decoded
