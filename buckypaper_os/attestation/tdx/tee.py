"""The ``tdx`` TEE plugin: parse -> verify -> collateral -> validate."""

import datetime
import functools
import typing

from cryptography import x509

from buckypaper_os.attestation import policy as policy_mod
from buckypaper_os.attestation import result
from buckypaper_os.attestation.tdx import abi
from buckypaper_os.attestation.tdx import collateral as collateral_mod
from buckypaper_os.attestation.tdx import pck
from buckypaper_os.attestation.tdx import validate
from buckypaper_os.attestation.tdx import verify
from buckypaper_os.attestation import tee


class TDX(tee.TEE):
    """Intel TDX DCAP quotes (v4, v5) with Intel PCS v4 collateral.

    :param trust: root certificates to trust; default only the pinned
        Intel SGX Root CA (tests inject their own PKI here).
    """

    name = 'tdx'

    def __init__(self, trust: typing.Optional[
            typing.Iterable[x509.Certificate]] = None) -> None:
        self._trust = (verify.default_trust() if trust is None
                       else verify.TrustStore(trust))

    def recognizes(self, evidence: bytes) -> bool:
        return abi.looks_like_quote(evidence)

    def appraise(self, evidence: bytes, *, certs: typing.Sequence[bytes],
                 collateral: typing.Optional[tee.Collateral],
                 at: datetime.datetime,
                 policy: policy_mod.Policy) -> result.AttestationResult:
        """Appraise a quote; ``certs`` is unused (the quote carries them).

        Claims come from the quote even when it does not verify. The
        collateral is only appraised for a verified quote, and a TCB status
        only reported when both verify.
        """
        q = abi.parse(evidence)
        chain = pck.chain(q.pck_chain)
        claims = abi.claims(q, chain.extensions.fmspc)
        reasons = verify.quote(q, self._trust)
        windows = _chain_windows(chain)
        tcb_status = None
        files = (collateral_mod.read(collateral, chain.extensions.fmspc)
                 if collateral is not None else None)
        if files is not None and not reasons:
            appraisal = collateral_mod.appraise(files, q, self._trust)
            reasons = list(appraisal.reasons)
            windows += appraisal.windows
            tcb_status = appraisal.tcb_status
        stale = list(dict.fromkeys(p for p in (w.problem(at) for w in windows)
                                   if p))
        verification = result.Verification(not reasons, reasons, stale,
                                           tcb_status, claims)
        findings = validate.validate(q, verification, policy,
                                     files is not None)
        return result.conclude(self.name, claims, verification, findings,
                               abi.tcb(q.report))


@functools.lru_cache(maxsize=1024)
def _chain_windows(chain: pck.PckChain) -> typing.Tuple[
        collateral_mod.Window, ...]:
    return tuple(collateral_mod.cert_window(c)
                 for c in (chain.leaf,) + chain.issuers)
