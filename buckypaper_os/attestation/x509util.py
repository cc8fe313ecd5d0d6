"""X.509 helpers shared by the TEE verifiers.

Parsing and signature checks are cached by the content (DER bytes) of what
they look at, so a chain, a CRL or a collateral signer is verified once per
process however many reports it signs.
"""

import datetime
import functools
import typing
import warnings

from cryptography import exceptions as crypto_exc
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.hazmat.primitives import serialization
from cryptography import utils
from cryptography import x509

from buckypaper_os.attestation import errors

_PEM_BEGIN = b'-----BEGIN CERTIFICATE-----'
_DER = serialization.Encoding.DER


#: What ``cryptography`` raises, at load time or lazily when a field is
#: first read, for malformed X.509 structures.
PARSE_ERRORS = (ValueError, KeyError, TypeError, x509.InvalidVersion,
                x509.DuplicateExtension, x509.UnsupportedGeneralNameType,
                crypto_exc.UnsupportedAlgorithm)

#: AMD issues VCEKs and VLEKs with serial number 0, which RFC 5280 forbids
#: and ``cryptography`` warns about on every load; the warning says nothing
#: a verifier can act on, so it is silenced (for that message only).
warnings.filterwarnings('ignore', message='Parsed a serial number which',
                        category=utils.CryptographyDeprecationWarning)


@functools.lru_cache(maxsize=4096)
def load_certificates(data: bytes) -> typing.Tuple[x509.Certificate, ...]:
    """Certificates in ``data``: a PEM bundle or one DER certificate.

    Every field is decoded here (``cryptography`` decodes lazily), so a
    malformed certificate is an :class:`EvidenceError` now, not an arbitrary
    exception later.
    """
    try:
        if _PEM_BEGIN in data:
            certs = tuple(x509.load_pem_x509_certificates(data))
        else:
            certs = (x509.load_der_x509_certificate(data),)
        for cert in certs:
            (cert.subject, cert.issuer, cert.extensions, cert.serial_number,
             cert.public_key(), cert.signature_hash_algorithm,
             cert.not_valid_before_utc, cert.not_valid_after_utc)
    except PARSE_ERRORS as exc:
        raise _unreadable('certificate', exc) from None
    return certs


@functools.lru_cache(maxsize=1024)
def load_crl(data: bytes,
             what: str = 'CRL') -> x509.CertificateRevocationList:
    """A CRL in PEM or DER form, every field decoded (see above).

    ``what`` names the CRL in the error message.
    """
    try:
        if data.lstrip().startswith(b'-----BEGIN'):
            crl = x509.load_pem_x509_crl(data)
        else:
            crl = x509.load_der_x509_crl(data)
        (crl.issuer, crl.last_update_utc, crl.next_update_utc,
         [entry.serial_number for entry in crl])
    except PARSE_ERRORS as exc:
        raise _unreadable(what, exc) from None
    return crl


def _unreadable(what: str, exc: Exception) -> errors.EvidenceError:
    detail = ' '.join(str(exc).split())[:120] or type(exc).__name__
    return errors.EvidenceError('unreadable %s: %s' % (what, detail))


def verify_signature(public_key, signature: bytes, data: bytes,
                     params, hash_algorithm) -> bool:
    """Check an X.509-style signature; ``params`` is the padding or ECDSA."""
    try:
        if isinstance(public_key, rsa.RSAPublicKey):
            public_key.verify(signature, data, params, hash_algorithm)
        elif isinstance(public_key, ec.EllipticCurvePublicKey):
            public_key.verify(signature, data, params)
        else:
            return False
    except (crypto_exc.InvalidSignature, ValueError, TypeError):
        return False
    return True


@functools.lru_cache(maxsize=4096)
def signed_by(cert: x509.Certificate, issuer: x509.Certificate) -> bool:
    """True if ``issuer`` issued ``cert`` (name and signature).

    Certificates hash and compare by their DER bytes, so the cache is keyed
    by content.
    """
    if cert.issuer != issuer.subject:
        return False
    try:
        params = cert.signature_algorithm_parameters
        hash_algorithm = cert.signature_hash_algorithm
    except (ValueError, crypto_exc.UnsupportedAlgorithm):
        return False
    return verify_signature(issuer.public_key(), cert.signature,
                            cert.tbs_certificate_bytes, params,
                            hash_algorithm)


def crl_signed_by(crl: x509.CertificateRevocationList,
                  issuer: x509.Certificate) -> bool:
    """True if ``issuer`` issued and signed ``crl``."""
    return _crl_signed_by(crl.public_bytes(_DER), issuer.public_bytes(_DER))


@functools.lru_cache(maxsize=1024)
def _crl_signed_by(crl_der: bytes, issuer_der: bytes) -> bool:
    crl = x509.load_der_x509_crl(crl_der)
    issuer = x509.load_der_x509_certificate(issuer_der)
    if crl.issuer != issuer.subject:
        return False
    try:
        return crl.is_signature_valid(issuer.public_key())
    except (TypeError, ValueError, crypto_exc.UnsupportedAlgorithm):
        return False


def is_revoked(crl: x509.CertificateRevocationList,
               cert: x509.Certificate) -> bool:
    """True if ``crl`` lists the serial number of ``cert``."""
    return crl.get_revoked_certificate_by_serial_number(
        cert.serial_number) is not None


def stale_certificate(cert: x509.Certificate,
                      at: datetime.datetime) -> typing.Optional[str]:
    """A reason if ``at`` is outside the certificate's validity, else None."""
    if at < cert.not_valid_before_utc:
        return '%s not yet valid at %s' % (_cn(cert), _iso(at))
    if at > cert.not_valid_after_utc:
        return '%s expired at %s' % (_cn(cert), _iso(at))
    return None


def stale_crl(crl: x509.CertificateRevocationList, what: str,
              at: datetime.datetime) -> typing.Optional[str]:
    """A reason if ``at`` is outside the CRL's thisUpdate..nextUpdate."""
    if at < crl.last_update_utc:
        return '%s not yet valid at %s' % (what, _iso(at))
    if crl.next_update_utc is not None and at > crl.next_update_utc:
        return '%s expired at %s' % (what, _iso(at))
    return None


def common_name(cert: x509.Certificate) -> str:
    """The subject CN, or the whole subject if it has none."""
    return _cn(cert)


def _cn(cert: x509.Certificate) -> str:
    names = cert.subject.get_attributes_for_oid(x509.NameOID.COMMON_NAME)
    return str(names[0].value) if names else cert.subject.rfc4514_string()


def _iso(at: datetime.datetime) -> str:
    return at.strftime('%Y-%m-%dT%H:%M:%SZ')
