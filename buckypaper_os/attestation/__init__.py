"""Verification of confidential-computing evidence (SEV-SNP, TDX).

No OpenStack imports here: the verifier is usable on its own. The entry
point is :func:`verify`.
"""

import datetime
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


def verify(evidence: bytes, *, tee: typing.Optional[str] = None,
           certs: typing.Iterable[bytes] = (),
           collateral: typing.Union[str, tee_mod.Collateral, None] = None,
           at: typing.Optional[datetime.datetime] = None,
           policy: typing.Optional[Policy] = None) -> AttestationResult:
    """Verify and appraise one piece of evidence.

    :param evidence: a raw SNP ATTESTATION_REPORT or TDX quote.
    :param tee: ``"sev-snp"`` or ``"tdx"``; detected when None.
    :param certs: PEM or DER certificates (VCEK/VLEK, KDS cert_chain).
    :param collateral: a directory in the layout of the test vectors, or an
        object with a ``read(name)`` method.
    :param at: verification time (aware or UTC-naive); default now.
    :param policy: appraisal policy; default :class:`Policy()`.
    :raises EvidenceError: the evidence, certificates or collateral cannot
        be parsed.
    """
    if not isinstance(evidence, (bytes, bytearray, memoryview)):
        raise EvidenceError('evidence must be bytes')
    evidence = bytes(evidence)
    if len(evidence) > MAX_EVIDENCE_SIZE:
        raise EvidenceError('evidence of %d bytes exceeds the %d-byte limit'
                            % (len(evidence), MAX_EVIDENCE_SIZE))
    if isinstance(collateral, str):
        collateral = collateral_dir.CollateralDir(collateral)
    plugin = tee_mod.get(tee, evidence)
    return plugin.appraise(evidence, certs=tuple(bytes(c) for c in certs),
                           collateral=collateral, at=_utc(at),
                           policy=policy or Policy())


def _utc(at: typing.Optional[datetime.datetime]) -> datetime.datetime:
    if at is None:
        return datetime.datetime.now(datetime.timezone.utc)
    if at.tzinfo is None:
        return at.replace(tzinfo=datetime.timezone.utc)
    return at.astimezone(datetime.timezone.utc)
