"""The PCK certificate chain of a quote and the PCK SGX extensions.

The SGX extension (OID 1.2.840.113741.1.13.1, Intel SGX PCK Certificate and
CRL Profile) is a SEQUENCE of (OID, value) pairs: ``.2`` TCB (components
``.2.1``-``.2.16``, PCESVN ``.2.17``, CPUSVN ``.2.18``), ``.3`` PCE-ID,
``.4`` FMSPC, ... It is decoded with pyasn1. Results are cached by DER.
"""

import functools
import typing

from cryptography import x509
from pyasn1.codec.der import decoder
from pyasn1 import error as asn1_error
from pyasn1.type import univ

from buckypaper_os.attestation import errors
from buckypaper_os.attestation import x509util

SGX_EXTENSION = x509.ObjectIdentifier('1.2.840.113741.1.13.1')
_SGX = (1, 2, 840, 113741, 1, 13, 1)
_TCB = _SGX + (2,)
_PCE_ID = _SGX + (3,)
_FMSPC = _SGX + (4,)
_PEM_BEGIN = b'-----BEGIN CERTIFICATE-----'


class PckExtensions(typing.NamedTuple):
    """What the PCK certificate says about its platform."""

    fmspc: bytes
    pce_id: bytes
    pce_svn: int
    cpu_svn: bytes
    sgx_tcb: typing.Tuple[int, ...]


class PckChain(typing.NamedTuple):
    """The chain as carried by the quote: leaf first."""

    leaf: x509.Certificate
    issuers: typing.Tuple[x509.Certificate, ...]
    extensions: PckExtensions


@functools.lru_cache(maxsize=1024)
def chain(data: bytes) -> PckChain:
    """Parse certification data type 5: PEM, or DER certificates in a row.

    The certificates may come in any order; the leaf is the one that issued
    no other certificate of the set, the issuers follow it up the chain.
    """
    certs = certificates(data)
    issuers = {c.issuer for c in certs if c.issuer != c.subject}
    leaves = [c for c in certs if c.subject not in issuers]
    if len(leaves) != 1:
        raise errors.EvidenceError(
            'PCK certificate chain has %d leaf certificates' % len(leaves))
    ordered = [leaves[0]]
    while len(ordered) < len(certs):
        parents = [c for c in certs if c.subject == ordered[-1].issuer
                   and c not in ordered]
        if len(parents) != 1:
            break
        ordered.append(parents[0])
    if len(ordered) != len(certs):
        raise errors.EvidenceError('PCK certificates do not form one chain')
    return PckChain(ordered[0], tuple(ordered[1:]), extensions(ordered[0]))


@functools.lru_cache(maxsize=1024)
def certificates(data: bytes) -> typing.Tuple[x509.Certificate, ...]:
    """Certificates of a PEM bundle or of DER certificates in a row."""
    if _PEM_BEGIN in data:
        certs = x509util.load_certificates(data)
    else:
        certs = tuple(x509util.load_certificates(der)[0]
                      for der in _split_der(data.rstrip(b'\0')))
    if not certs:
        raise errors.EvidenceError('certificate chain is empty')
    return certs


#: A PCK chain is leaf, CA and root; anything much longer is not one.
MAX_CHAIN = 8


def _split_der(data: bytes) -> typing.List[bytes]:
    """Split concatenated DER SEQUENCEs (each a certificate).

    Only the tag and length octets are read here, so splitting costs
    nothing next to parsing the certificates themselves.
    """
    parts = []
    while data:
        if len(parts) == MAX_CHAIN:
            raise errors.EvidenceError(
                'PCK certificate chain has more than %d certificates'
                % MAX_CHAIN)
        size = _der_size(data)
        parts.append(data[:size])
        data = data[size:]
    return parts


def _der_size(data: bytes) -> int:
    """The encoded size of the DER SEQUENCE at the start of ``data``."""
    if len(data) < 2 or data[0] != 0x30:
        raise errors.EvidenceError('unreadable DER in PCK certificate chain')
    if data[1] < 0x80:
        header, length = 2, data[1]
    else:
        octets = data[1] & 0x7F
        if not 1 <= octets <= 3 or len(data) < 2 + octets:
            raise errors.EvidenceError(
                'unreadable DER length in PCK certificate chain')
        header = 2 + octets
        length = int.from_bytes(data[2:header], 'big')
    if header + length > len(data):
        raise errors.EvidenceError('truncated DER in PCK certificate chain')
    return header + length


def extensions(cert: x509.Certificate) -> PckExtensions:
    """The SGX extension of a PCK certificate."""
    try:
        ext = cert.extensions.get_extension_for_oid(SGX_EXTENSION)
    except (x509.ExtensionNotFound, ValueError):
        raise errors.EvidenceError(
            'PCK certificate has no SGX extension') from None
    return _decode(ext.value.value)


@functools.lru_cache(maxsize=1024)
def _decode(der: bytes) -> PckExtensions:
    try:
        top = _pairs(der)
        tcb = _pairs(top[_TCB])
        sgx_tcb = tuple(_int(tcb[_TCB + (i,)]) for i in range(1, 17))
        pce_svn = _int(tcb[_TCB + (17,)])
        cpu_svn = _octets(tcb[_TCB + (18,)], 16)
        pce_id = _octets(top[_PCE_ID], 2)
        fmspc = _octets(top[_FMSPC], 6)
    except KeyError as exc:
        raise errors.EvidenceError(
            'PCK SGX extension lacks %s'
            % '.'.join(map(str, exc.args[0]))) from None
    except (asn1_error.PyAsn1Error, TypeError, ValueError, AttributeError):
        raise errors.EvidenceError(
            'PCK SGX extension is malformed') from None
    return PckExtensions(fmspc, pce_id, pce_svn, cpu_svn, sgx_tcb)


def _pairs(value) -> dict:
    """A SEQUENCE OF SEQUENCE {OID, value} (DER or decoded) as a dict."""
    if isinstance(value, bytes):
        value, rest = decoder.decode(value)
        if rest:
            raise ValueError('trailing bytes')
    if not isinstance(value, univ.SequenceOf):
        raise ValueError('not a SEQUENCE OF')
    pairs = {}
    for item in value:
        if not isinstance(item, univ.Sequence) or len(item) != 2 \
                or not isinstance(item[0], univ.ObjectIdentifier):
            raise ValueError('not an (OID, value) pair')
        oid = tuple(item[0])
        if oid in pairs:
            raise ValueError('duplicate OID')
        pairs[oid] = item[1]
    return pairs


def _int(value) -> int:
    if not isinstance(value, univ.Integer) or not 0 <= int(value) < 1 << 16:
        raise ValueError('not an SVN')
    return int(value)


def _octets(value, size: int) -> bytes:
    if not isinstance(value, univ.OctetString) or len(value) != size:
        raise ValueError('not %d octets' % size)
    return value.asOctets()
