"""Verification of confidential-computing evidence (SEV-SNP, TDX).

No OpenStack imports here: the verifier is usable on its own. The entry
point is :func:`verify`.
"""

import datetime
import os
import typing

from buckypaper_os.attestation import collateral_dir
from buckypaper_os.attestation.errors import EvidenceError
from buckypaper_os.attestation.policy import Policy
from buckypaper_os.attestation.result import AttestationResult
from buckypaper_os.attestation import tee as tee_mod

__all__ = ['verify', 'AttestationResult', 'EvidenceError', 'Policy']

#: Evidence larger than this is refused before parsing (a TDX quote with a
#: PEM chain is a few KiB; an SNP report is 1184 bytes).
MAX_EVIDENCE_SIZE = 64 * 1024
#: At most this many certificate blobs, each at most MAX_EVIDENCE_SIZE.
MAX_CERTS = 8


def verify(evidence: bytes, *, tee: typing.Optional[str] = None,
           certs: typing.Iterable[bytes] = (),
           collateral: typing.Union[str, tee_mod.Collateral, None] = None,
           at: typing.Optional[datetime.datetime] = None,
           policy: typing.Optional[Policy] = None,
           plugin: typing.Optional[tee_mod.TEE] = None) -> AttestationResult:
    """Verify and appraise one piece of evidence.

    :param evidence: a raw SNP ATTESTATION_REPORT or TDX quote.
    :param tee: ``"sev-snp"`` or ``"tdx"``; detected when None.
    :param certs: PEM or DER certificates (VCEK/VLEK, KDS cert_chain).
    :param collateral: a directory in the layout of the test vectors, or an
        object with a ``read(name)`` method.
    :param at: verification time (aware or UTC-naive); default now.
    :param policy: appraisal policy; default :class:`Policy()`.
    :param plugin: a TEE plugin to use instead of the registered one of
        ``tee``, e.g. one with other trust anchors (a simulated TEE).
    :raises EvidenceError: the evidence, certificates or collateral cannot
        be parsed.
    """
    evidence = _bytes(evidence, 'evidence')
    certs = tuple(_bytes(cert, 'certificate') for cert in certs)
    if len(certs) > MAX_CERTS:
        raise EvidenceError('more than %d certificate blobs' % MAX_CERTS)
    if isinstance(collateral, (str, os.PathLike)):
        collateral = collateral_dir.CollateralDir(os.fspath(collateral))
    plugin = plugin or tee_mod.get(tee, evidence)
    return plugin.appraise(evidence, certs=certs, collateral=collateral,
                           at=_utc(at), policy=policy or Policy())


def _bytes(value, what: str) -> bytes:
    if not isinstance(value, (bytes, bytearray, memoryview)):
        raise EvidenceError('%s must be bytes' % what)
    if len(value) > MAX_EVIDENCE_SIZE:
        raise EvidenceError('%s of %d bytes exceeds the %d-byte limit'
                            % (what, len(value), MAX_EVIDENCE_SIZE))
    return bytes(value)


def _utc(at: typing.Optional[datetime.datetime]) -> datetime.datetime:
    if at is None:
        return datetime.datetime.now(datetime.timezone.utc)
    if not isinstance(at, datetime.datetime):
        raise EvidenceError('the verification time must be a datetime')
    if at.tzinfo is None:
        return at.replace(tzinfo=datetime.timezone.utc)
    try:
        return at.astimezone(datetime.timezone.utc)
    except OverflowError:
        raise EvidenceError('verification time %s is out of range'
                            % at.isoformat()) from None
