"""Evidence verification as Nitride runs it: real roots, or a simulation.

Evidence is verified against the pinned vendor roots. Only when the
operator configured ``[nitride] simulated_tee_trust_dir`` is SEV-SNP
evidence whose certificates come from that simulated PKI verified against
it instead; such results are marked simulated, and Nitride says so loudly
when it starts.

With ``[attestation] collateral_cache_dir`` the revocation and TCB data
(AMD KDS CRLs, Intel TCB Info, QE Identity and CRLs) come from the
operator's cache alone and are required: a guest can neither leave them
out nor send an older copy that would not refuse it. Without it, they are
what the guest sends.
"""

import dataclasses
import datetime
import typing

from oslo_log import log as logging

from buckypaper_os import attestation
from buckypaper_os.attestation import collateral_dir
from buckypaper_os.attestation.snp import abi as snp_abi
from buckypaper_os.attestation.snp import kds
from buckypaper_os.attestation.snp import tee as snp_tee
from buckypaper_os.attestation import x509util
from buckypaper_os.simulated_tee import pki

LOG = logging.getLogger(__name__)


class OperatorCollateral:
    """The guest's certificates; the operator's revocation and TCB data.

    Certificates are checked against the pinned roots whoever sends them:
    the guest's come first, then the cache's. Everything else is read from
    the cache only.
    """

    def __init__(self, cache: collateral_dir.CollateralDir,
                 files: typing.Mapping[str, bytes]) -> None:
        self._cache = cache
        self._certificates = {name: data for name, data in files.items()
                              if name in kds.CERTIFICATE_FILES}

    def read(self, name: str) -> typing.Optional[bytes]:
        """The guest's certificate file ``name``, else the cache's file."""
        found = self._certificates.get(name)
        return found if found is not None else self._cache.read(name)


class Verifier:
    """Verifies evidence, trusting a simulated TEE only if configured.

    :param collateral_cache_dir: the operator's collateral cache (see the
        module docstring); None to use what the guest sends.
    """

    def __init__(self, simulated_trust_dir: typing.Optional[str] = None,
                 collateral_cache_dir: typing.Optional[str] = None) -> None:
        self._cache = (collateral_dir.CollateralDir(collateral_cache_dir)
                       if collateral_cache_dir else None)
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

    @property
    def cached_collateral(self) -> bool:
        """True when revocation and TCB data come from the operator."""
        return self._cache is not None

    def verify(self, evidence: bytes, *, tee: typing.Optional[str],
               certs: typing.Sequence[bytes],
               collateral: typing.Optional[typing.Mapping[str, bytes]],
               at: typing.Optional[datetime.datetime],
               policy: attestation.Policy
               ) -> typing.Tuple[attestation.AttestationResult, bool]:
        """The result, and whether it came from the simulated TEE.

        ``collateral`` holds the files sent with the evidence. Raises
        :class:`attestation.EvidenceError` for unusable input.
        """
        if self._cache is not None:
            collateral = OperatorCollateral(self._cache, collateral or {})
            policy = dataclasses.replace(policy, require_crl=True,
                                         require_collateral=True)
        elif collateral:
            collateral = collateral_dir.MemoryCollateral(collateral)
        else:
            collateral = None
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
