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
            _check_encoding(cert.public_bytes(_DER),
                            cert.tbs_certificate_bytes, cert.signature,
                            'certificate')
    except PARSE_ERRORS as exc:
        raise _unreadable('certificate', exc) from None
    return certs


def _check_encoding(der: bytes, tbs: bytes, signature: bytes,
                    what: str) -> None:
    """Refuse encodings that ``cryptography`` reads but OpenSSL refuses.

    The signature BIT STRING (last in the DER) must have no unused bits,
    and the outer signatureAlgorithm must equal the one inside the signed
    part (RFC 5280 4.1.1.2). ``cryptography`` checks neither, so without
    this a signed certificate or CRL could be re-encoded, e.g. with other
    RSASSA-PSS parameters outside the signature, and still verify.
    """
    if der[-len(signature) - 1] != 0:
        raise errors.EvidenceError(
            '%s signature is not a whole number of octets' % what)
    try:
        outer = _content_start(der, 0)
        tbs_end = _tlv_end(der, outer)
        outer_algorithm = der[tbs_end:_tlv_end(der, tbs_end)]
        pos = _content_start(tbs, 0)
        while tbs[pos] in (0xA0, 0x02):  # [0] version, serial / version
            pos = _tlv_end(tbs, pos)
        inner_algorithm = tbs[pos:_tlv_end(tbs, pos)]
    except IndexError:
        inner_algorithm, outer_algorithm = b'', b'?'
    if inner_algorithm != outer_algorithm:
        raise errors.EvidenceError(
            '%s signature algorithm differs from the signed one' % what)


def _content_start(der: bytes, pos: int) -> int:
    """Offset of the contents of the DER value at ``pos``."""
    first = der[pos + 1]
    return pos + 2 + (first & 0x7F if first & 0x80 else 0)


def _tlv_end(der: bytes, pos: int) -> int:
    """Offset just past the DER value at ``pos``."""
    first = der[pos + 1]
    if first & 0x80:
        octets = first & 0x7F
        length = int.from_bytes(der[pos + 2:pos + 2 + octets], 'big')
    else:
        length = first
    end = _content_start(der, pos) + length
    if end > len(der):
        raise IndexError('DER value runs past its container')
    return end


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
        _check_encoding(crl.public_bytes(_DER), crl.tbs_certlist_bytes,
                        crl.signature, what)
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
    """True if ``issuer`` issued and signed ``crl`` and may sign CRLs."""
    return key_usage(issuer, 'crl_sign') and _crl_signed_by(
        crl.public_bytes(_DER), issuer.public_bytes(_DER))


def key_usage(cert: x509.Certificate, usage: str) -> bool:
    """True if ``cert``'s key usage extension allows ``usage``.

    ``usage`` is an attribute of :class:`x509.KeyUsage` such as
    ``key_cert_sign``; a certificate without the extension allows nothing
    here (RFC 5280 requires it of CAs).
    """
    try:
        return bool(getattr(cert.extensions.get_extension_for_class(
            x509.KeyUsage).value, usage))
    except (x509.ExtensionNotFound, ValueError):
        return False


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
    """A reason if ``at`` is outside the CRL's thisUpdate..nextUpdate.

    A CRL without nextUpdate is stale too: nothing says when it ends.
    """
    if at < crl.last_update_utc:
        return '%s not yet valid at %s' % (what, _iso(at))
    if crl.next_update_utc is None:
        # RFC 5280, 5.1.2.5: conforming issuers always include it.
        return '%s has no nextUpdate' % what
    if at > crl.next_update_utc:
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
