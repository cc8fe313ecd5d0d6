"""Cryptographic checks of a TDX quote and its PCK certificate chain.

* the quote's ECDSA P-256 signature over header and body, with the
  attestation key;
* the QE report's signature, with the PCK certificate key;
* QE REPORTDATA = SHA-256(attestation key || QE auth data) || 32 zeros;
* the quote comes from Intel's QE (QE Vendor ID);
* PCK certificate <- PCK CA <- a trusted root, the chain ending in that
  root (by default only the pinned Intel SGX Root CA): each issuer a CA
  allowed to sign certificates within its path length, the leaf an
  "SGX PCK Certificate" end entity (as Intel's QVL checks).

Everything but the quote signature depends only on the platform's QE
report and certificates, which are the same for all its quotes; that part
is cached by content, so a warm verification costs one P-256 verify.
"""

import functools
import hashlib
import hmac
import typing

from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric import utils
from cryptography.hazmat.primitives import hashes
from cryptography import x509

from buckypaper_os.attestation import roots
from buckypaper_os.attestation.tdx import abi
from buckypaper_os.attestation.tdx import pck
from buckypaper_os.attestation import x509util

_ECDSA_SHA256 = ec.ECDSA(hashes.SHA256())
#: QE Vendor ID of Intel's Quoting Enclave (the only QE accepted).
INTEL_QE_VENDOR_ID = bytes.fromhex('939a7233f79c4ca9940a0db3957f0607')
#: What the subject CN of a PCK certificate contains (Intel's QVL).
PCK_CN = 'SGX PCK Certificate'


class TrustStore:
    """Trusted root certificates; chains must end in one of them.

    Hashed by identity, so caches keyed on a store cost nothing to look up
    and never mix results of different stores.
    """

    def __init__(self, certs: typing.Iterable[x509.Certificate]) -> None:
        self.certs = tuple(certs)

    def __contains__(self, cert: x509.Certificate) -> bool:
        return cert in self.certs


@functools.lru_cache(maxsize=None)
def default_trust() -> TrustStore:
    """Only the pinned Intel SGX Root CA."""
    return TrustStore((roots.intel_sgx_root(),))


def quote(q: abi.Quote, trust: TrustStore) -> typing.List[str]:
    """Reasons the quote does not verify (empty when it does)."""
    reasons = []
    if not hmac.compare_digest(q.header.qe_vendor_id, INTEL_QE_VENDOR_ID):
        reasons.append('quote is not from Intel\'s QE (QE Vendor ID %s)'
                       % q.header.qe_vendor_id.hex())
    key = _p256_key(q.attestation_key)
    if key is None or not ecdsa_p256(key, q.signature, q.signed):
        reasons.append('quote signature does not verify with its '
                       'attestation key')
    reasons.extend(_platform(q.qe_report.raw, q.qe_report_signature,
                             q.attestation_key, q.qe_auth_data, q.pck_chain,
                             trust))
    return reasons


@functools.lru_cache(maxsize=1024)
def _platform(qe_report: bytes, qe_report_signature: bytes,
              attestation_key: bytes, qe_auth_data: bytes,
              pck_chain: bytes, trust: TrustStore) -> typing.Tuple[str, ...]:
    reasons = []
    chain = pck.chain(pck_chain)
    leaf_key = chain.leaf.public_key()
    if not (isinstance(leaf_key, ec.EllipticCurvePublicKey)
            and isinstance(leaf_key.curve, ec.SECP256R1)
            and ecdsa_p256(leaf_key, qe_report_signature, qe_report)):
        reasons.append('QE report signature does not verify with the PCK '
                       'certificate key')
    binding = hashlib.sha256(attestation_key + qe_auth_data).digest()
    if not hmac.compare_digest(binding + bytes(32), qe_report[320:384]):
        reasons.append('QE report does not bind the attestation key')
    problem = (chain_problem((chain.leaf,) + chain.issuers, trust, 'PCK')
               or _pck_leaf_problem(chain.leaf))
    if problem:
        reasons.append(problem)
    return tuple(reasons)


def chain_problem(certs: typing.Sequence[x509.Certificate],
                  trust: TrustStore, what: str) -> typing.Optional[str]:
    """Why ``certs`` (leaf first) is not a chain to a trusted root, or None.

    The last certificate must be a trusted root itself (trust comes from the
    trust store, never from the chain). Each issuer must be a CA whose key
    usage allows certificate signing and whose path length allows the CAs
    below it (RFC 5280, 4.2.1.3 and 4.2.1.9).
    """
    if len(certs) < 2:
        return '%s certificate chain lacks its root' % what
    if certs[-1] not in trust:
        return '%s certificate chain does not end in a trusted root' % what
    for below, (cert, issuer) in enumerate(zip(certs, certs[1:])):
        limit = _ca_path_length(issuer)
        if not (limit is not None and x509util.key_usage(issuer,
                                                         'key_cert_sign')
                and x509util.signed_by(cert, issuer)):
            return '%s is not issued by %s' % (
                x509util.common_name(cert), x509util.common_name(issuer))
        if below > limit:
            return '%s may not have %d CAs below it' % (
                x509util.common_name(issuer), below)
    return None


def end_entity_problem(cert: x509.Certificate,
                       what: str) -> typing.Optional[str]:
    """Why ``cert`` is not a signing end entity (a CA, or cannot sign)."""
    if _ca_path_length(cert) is not None or not x509util.key_usage(
            cert, 'digital_signature'):
        return '%s certificate is not a signing end entity' % what
    return None


def _pck_leaf_problem(cert: x509.Certificate) -> typing.Optional[str]:
    """Why ``cert`` is not a PCK certificate (by its one CN, as QVL)."""
    names = cert.subject.get_attributes_for_oid(x509.NameOID.COMMON_NAME)
    if len(names) != 1 or PCK_CN not in str(names[0].value):
        return 'PCK certificate is not an %s' % PCK_CN
    return end_entity_problem(cert, 'PCK')


def _ca_path_length(cert: x509.Certificate) -> typing.Optional[float]:
    """How many CAs may follow a CA certificate (inf: any); None if no CA."""
    try:
        constraints = cert.extensions.get_extension_for_class(
            x509.BasicConstraints).value
    except (x509.ExtensionNotFound, ValueError):
        return None
    if not constraints.ca:
        return None
    return (float('inf') if constraints.path_length is None
            else constraints.path_length)


@functools.lru_cache(maxsize=1024)
def _p256_key(raw: bytes) -> typing.Optional[ec.EllipticCurvePublicKey]:
    """The attestation key (X || Y), or None if not a P-256 point."""
    try:
        return ec.EllipticCurvePublicKey.from_encoded_point(
            ec.SECP256R1(), b'\x04' + raw)
    except ValueError:
        return None


def ecdsa_p256(key: ec.EllipticCurvePublicKey, signature: bytes,
               data: bytes) -> bool:
    """Check an ECDSA-SHA256 signature given as R || S (32 bytes each)."""
    if len(signature) != 64:
        return False
    der = utils.encode_dss_signature(int.from_bytes(signature[:32], 'big'),
                                     int.from_bytes(signature[32:], 'big'))
    return x509util.verify_signature(key, der, data, _ECDSA_SHA256, None)
