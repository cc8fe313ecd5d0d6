"""Evidence verification as Nitride runs it: real roots, or a simulation.

Evidence is verified against the pinned vendor roots. Only when the
operator configured ``[nitride] simulated_tee_trust_dir`` is SEV-SNP
evidence whose certificates come from that simulated PKI verified against
it instead; such results are marked simulated, and Nitride says so loudly
when it starts.
"""

import datetime
import typing

from oslo_log import log as logging

from buckypaper_os import attestation
from buckypaper_os.attestation.snp import abi as snp_abi
from buckypaper_os.attestation.snp import tee as snp_tee
from buckypaper_os.attestation import x509util
from buckypaper_os.simulated_tee import pki

LOG = logging.getLogger(__name__)


class Verifier:
    """Verifies evidence, trusting a simulated TEE only if configured."""

    def __init__(self, simulated_trust_dir: typing.Optional[str] = None
                 ) -> None:
        self._simulated = None
        self._simulated_names = frozenset()
        if simulated_trust_dir:
            store = pki.load_trust(simulated_trust_dir)
            anchors = [a for a in map(store.get, snp_abi.PRODUCTS) if a]
            self._simulated = snp_tee.SNP(trust=store)
            self._simulated_names = frozenset(
                cert.subject for a in anchors for cert in (a.ark, a.ask))
            LOG.warning('SIMULATED TEE TRUSTED: evidence signed by the '
                        'simulated PKI in %s is accepted and marked '
                        'simulated. Never run this in production.',
                        simulated_trust_dir)

    @property
    def simulation(self) -> bool:
        """True when a simulated TEE is trusted."""
        return self._simulated is not None

    def verify(self, evidence: bytes, *, tee: typing.Optional[str],
               certs: typing.Sequence[bytes], collateral,
               at: typing.Optional[datetime.datetime],
               policy: attestation.Policy
               ) -> typing.Tuple[attestation.AttestationResult, bool]:
        """The result, and whether it came from the simulated TEE.

        Raises :class:`attestation.EvidenceError` for unusable input.
        """
        simulated = self._from_simulation(tee, certs)
        result = attestation.verify(
            evidence, tee=tee, certs=certs, collateral=collateral, at=at,
            policy=policy, plugin=self._simulated if simulated else None)
        return result, simulated

    def _from_simulation(self, tee: typing.Optional[str],
                         certs: typing.Sequence[bytes]) -> bool:
        if self._simulated is None or tee not in (None, 'sev-snp'):
            return False
        for blob in certs:
            for cert in x509util.load_certificates(bytes(blob)):
                if cert.issuer in self._simulated_names:
                    return True
        return False
