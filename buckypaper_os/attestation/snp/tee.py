"""The SEV-SNP plugin: parse, verify, validate, conclude."""

import datetime
import struct
import typing

from buckypaper_os.attestation import policy as policy_mod
from buckypaper_os.attestation import result
from buckypaper_os.attestation.snp import abi
from buckypaper_os.attestation.snp import kds
from buckypaper_os.attestation.snp import trust as trust_mod
from buckypaper_os.attestation.snp import validate
from buckypaper_os.attestation.snp import verify
from buckypaper_os.attestation import tee


class SNP(tee.TEE):
    """AMD SEV-SNP attestation reports.

    :param trust: trust anchors; default AMD's pinned roots only.
    """

    name = 'sev-snp'

    def __init__(self, trust: typing.Optional[trust_mod.TrustStore] = None
                 ) -> None:
        self.trust = trust or trust_mod.pinned()

    def recognizes(self, evidence: bytes) -> bool:
        """A 0x4A0-byte blob whose first word is a known report version."""
        return (len(evidence) == abi.REPORT_SIZE and
                struct.unpack_from('<I', evidence)[0] in abi.VERSIONS)

    def appraise(self, evidence: bytes, *, certs: typing.Sequence[bytes],
                 collateral: typing.Optional[tee.Collateral],
                 at: datetime.datetime,
                 policy: policy_mod.Policy) -> result.AttestationResult:
        report = abi.parse(evidence)
        found = kds.find(report, certs, collateral, report.cpuid_product)
        signer = found.signer(report)
        product = report.cpuid_product or (signer and signer.product)
        claims = abi.claims(report, product)
        crl = kds.find_crl(report, collateral, product)
        verification = verify.verify(report, product, signer, found.others,
                                     crl, at, self.trust)
        verification.claims = claims
        findings = validate.validate(report, product, verification, policy,
                                     crl is not None)
        return result.conclude(self.name, claims, verification, findings,
                               abi.decode_tcb(report.reported_tcb, product))
