"""Cryptographic verification of a SEV-SNP report.

The report signature (ECDSA P-384 SHA-384 over bytes 0x000..0x29F) is
checked with the VCEK or VLEK; that certificate must be issued by the ASK
(VCEK) or ASVK (VLEK) of the report's product, signed by its ARK, both taken
from the trust store (pinned AMD roots by default); certificates supplied
with the report only have to equal them. The certificate must also match
the report: key type, product, TCB and (VCEK) chip. An AMD KDS CRL, when
given, must be signed by the ARK and list neither certificate.

Everything but the report signature is cached by content, so a warm
verification costs one ECDSA verify.
"""

import datetime
import functools
import typing

from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric import utils
from cryptography.hazmat.primitives import hashes
from cryptography import x509

from buckypaper_os.attestation import result
from buckypaper_os.attestation.snp import abi
from buckypaper_os.attestation.snp import certs as certs_mod
from buckypaper_os.attestation.snp import trust as trust_mod
from buckypaper_os.attestation import x509util

_ECDSA_SHA384 = ec.ECDSA(hashes.SHA384())
_ISSUER = {'vcek': 'ASK', 'vlek': 'ASVK'}


def verify(report: abi.Report, product: typing.Optional[str],
           signer: typing.Optional[certs_mod.SigningCert],
           supplied: typing.Tuple[bytes, ...], crl: typing.Optional[bytes],
           at: datetime.datetime,
           trust: trust_mod.TrustStore) -> result.Verification:
    """Check signature, chain, CRL and certificate/report consistency.

    ``supplied`` is the DER of the other certificates given with the
    report. One that claims to be an anchor of ``product`` (same subject)
    must be that anchor or issued by its ARK (a re-issued ASK); others are
    ignored. Trust comes only from the anchors either way. A
    report with anomalies (see :mod:`.abi`) is never verified.
    """
    verification = _verify(report, product, signer, supplied, crl, at,
                           trust)
    if report.anomalies:
        verification.reasons[:0] = report.anomalies
        verification.verified = False
    return verification


def _verify(report: abi.Report, product: typing.Optional[str],
            signer: typing.Optional[certs_mod.SigningCert],
            supplied: typing.Tuple[bytes, ...], crl: typing.Optional[bytes],
            at: datetime.datetime,
            trust: trust_mod.TrustStore) -> result.Verification:
    if report.signing_key == 'none':
        return result.Verification(False, ['the report is not signed '
                                           '(KEY_INFO signing key 7)'])
    if signer is None:
        return result.Verification(False, [
            'no %s certificate for the report' % report.signing_key.upper()])
    anchors = trust.get(product)
    if anchors is None:
        return result.Verification(False, [
            'no trusted AMD root for product %s' % (product or 'unknown')])
    issuer = anchors.issuer(report.signing_key)
    reasons = list(_chain(signer, report.signing_key, product, anchors,
                          supplied))
    reasons += _matches_report(signer, report, product)
    if report.mask_chip_key:
        reasons.append('the report is not signed by the chip '
                       '(MASK_CHIP_KEY is set)')
    elif not _signature_ok(signer, report):
        reasons.append('report signature does not verify with the %s'
                       % report.signing_key.upper())
    stale = [r for r in (x509util.stale_certificate(c, at)
                         for c in (signer.cert, issuer, anchors.ark) if c)
             if r]
    if crl is not None:
        reasons += _crl_reasons(crl, anchors.ark, issuer, signer)
        stale += [r for r in [x509util.stale_crl(
            x509util.load_crl(crl), 'AMD KDS CRL', at)] if r]
    return result.Verification(not reasons, reasons, stale)


def _signature_ok(signer: certs_mod.SigningCert, report: abi.Report) -> bool:
    if signer.public_key is None:
        return False
    signature = utils.encode_dss_signature(report.r, report.s)
    return x509util.verify_signature(signer.public_key, signature,
                                     report.signed, _ECDSA_SHA384, None)


def _chain(signer: certs_mod.SigningCert, kind: str, product: str,
           anchors: trust_mod.Anchors, supplied: typing.Tuple[bytes, ...]
           ) -> typing.Tuple[str, ...]:
    der = anchors.der
    return _chain_cached(signer.der, kind, product, der['ark'],
                         der.get(kind), supplied,
                         frozenset(der.values()))


@functools.lru_cache(maxsize=1024)
def _chain_cached(signer_der: bytes, kind: str, product: str,
                  ark_der: bytes, issuer_der: typing.Optional[bytes],
                  supplied: typing.Tuple[bytes, ...],
                  pinned: typing.FrozenSet[bytes]) -> typing.Tuple[str, ...]:
    """Reasons the signer's chain fails (cached by content)."""
    signer = certs_mod.signing_cert(x509.load_der_x509_certificate(signer_der))
    ark = x509.load_der_x509_certificate(ark_der)
    issuer = issuer_der and x509.load_der_x509_certificate(issuer_der)
    name = kind.upper()
    reasons = []
    if signer.kind != kind:
        reasons.append('the report is signed with the %s but the '
                       'certificate is a %s' % (name, signer.kind.upper()))
    if signer.public_key is None:
        reasons.append('the %s key is not an ECDSA P-384 key' % name)
    if issuer is None:
        reasons.append('no trusted %s for %s' % (_ISSUER[kind], product))
    elif not x509util.signed_by(signer.cert, issuer):
        reasons.append('the %s is not issued by the trusted %s (%s) for %s'
                       % (name, _ISSUER[kind],
                          x509util.common_name(issuer), product))
    elif not x509util.signed_by(issuer, ark):
        reasons.append('the %s %s is not signed by the ARK %s'
                       % (_ISSUER[kind], x509util.common_name(issuer),
                          x509util.common_name(ark)))
    if not x509util.signed_by(ark, ark):
        reasons.append('the ARK %s is not self-signed'
                       % x509util.common_name(ark))
    anchors = {x509.load_der_x509_certificate(d).subject for d in pinned}
    for der in supplied:
        cert = x509.load_der_x509_certificate(der)
        if (cert.subject in anchors and der not in pinned
                and not x509util.signed_by(cert, ark)):
            reasons.append('certificate %s is neither a trusted AMD '
                           'certificate for %s nor issued by its ARK'
                           % (x509util.common_name(cert), product))
    return tuple(reasons)


def _matches_report(signer: certs_mod.SigningCert, report: abi.Report,
                    product: str) -> typing.List[str]:
    """The certificate must be for this product, TCB and chip."""
    reasons = []
    if signer.product != product:
        reasons.append('certificate product %s does not match the report '
                       'product %s' % (signer.product or 'unknown', product))
    for component, value in abi.decode_tcb(report.reported_tcb,
                                           product).items():
        cert_value = signer.tcb.get(component)
        if cert_value != value:
            reasons.append('certificate %s SPL %s does not match the '
                           'reported TCB %d' % (component, cert_value, value))
    chip_id = report.chip_id
    if signer.kind == 'vcek' and any(chip_id):
        size = 8 if product == abi.TURIN else 64
        if signer.hwid != chip_id[:size]:
            reasons.append('certificate hwID does not match the CHIP_ID')
    return reasons


def _crl_reasons(crl_data: bytes, ark: x509.Certificate,
                 issuer: typing.Optional[x509.Certificate],
                 signer: certs_mod.SigningCert) -> typing.List[str]:
    crl = x509util.load_crl(crl_data)
    if not x509util.crl_signed_by(crl, ark):
        return ['the CRL is not signed by the ARK %s'
                % x509util.common_name(ark)]
    return ['%s is revoked' % x509util.common_name(cert)
            for cert in (issuer, signer.cert)
            if cert is not None and x509util.is_revoked(crl, cert)]
