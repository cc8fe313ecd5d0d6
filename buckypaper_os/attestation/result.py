"""Attestation results in the shape of an EAR (draft-ietf-rats-ear).

Each TEE verifier produces a :class:`Verification` (what cryptography says
about the evidence) and a list of appraisal :class:`Finding` objects (what the
policy says); :func:`conclude` turns them into an :class:`AttestationResult`.
"""

import dataclasses
import enum
import typing


class Tier(str, enum.Enum):
    """AR4SI trust tiers, in increasing order of distrust."""

    AFFIRMING = 'affirming'
    WARNING = 'warning'
    CONTRAINDICATED = 'contraindicated'


# AR4SI trustworthiness claim values (draft-ietf-rats-ar4si section 2.3).
TRUST_NONE = 0
TRUST_AFFIRMING = 2
TRUST_WARNING = 32
TRUST_CONTRAINDICATED = 96

#: Trustworthiness-vector claims that a hardware TEE report can speak to.
VECTOR_CLAIMS = ('instance-identity', 'configuration', 'executables',
                 'hardware')


@dataclasses.dataclass
class Verification:
    """What the signatures, chains, CRLs and collateral say.

    ``verified`` is true only when every signature, chain and CRL holds and
    the collateral matches the evidence. ``stale`` lists certificates, CRLs or
    collateral outside their validity window at the verification time; it is
    appraised by the policy, not part of ``verified``.
    """

    verified: bool
    reasons: list = dataclasses.field(default_factory=list)
    stale: list = dataclasses.field(default_factory=list)
    tcb_status: typing.Optional[str] = None
    claims: dict = dataclasses.field(default_factory=dict)


@dataclasses.dataclass(frozen=True)
class Finding:
    """One appraisal outcome that is not plainly affirming.

    ``claim`` names the trustworthiness-vector entry it degrades.
    """

    tier: Tier
    claim: str
    reason: str


@dataclasses.dataclass
class AttestationResult:
    """The verdict on one piece of evidence."""

    tee: str
    verified: bool
    status: str
    claims: dict
    tcb_status: typing.Optional[str] = None
    reasons: list = dataclasses.field(default_factory=list)
    trustworthiness: dict = dataclasses.field(default_factory=dict)
    #: The TCB the evidence reports, by the component names of a policy's
    #: ``min_tcb`` (SNP ``bl``, ``snp``...; TDX ``tee_tcb_svn_<i>``).
    tcb: dict = dataclasses.field(default_factory=dict)

    @property
    def ok(self) -> bool:
        """True for affirming and warning results."""
        return self.status != Tier.CONTRAINDICATED.value

    def to_dict(self) -> dict:
        """A JSON-ready dict with the keys the CLI prints."""
        return {'tee': self.tee, 'verified': self.verified,
                'status': self.status, 'claims': self.claims,
                'tcb_status': self.tcb_status, 'reasons': list(self.reasons),
                'trustworthiness': dict(self.trustworthiness)}


_TRUST_VALUE = {Tier.AFFIRMING: TRUST_AFFIRMING,
                Tier.WARNING: TRUST_WARNING,
                Tier.CONTRAINDICATED: TRUST_CONTRAINDICATED}
_ORDER = (Tier.AFFIRMING, Tier.WARNING, Tier.CONTRAINDICATED)


def conclude(tee: str, claims: dict, verification: Verification,
             findings: typing.Iterable[Finding],
             tcb: typing.Mapping[str, int]) -> AttestationResult:
    """Combine verification and appraisal into one result.

    Evidence that does not verify is contraindicated whatever the policy
    says; otherwise the worst finding decides the tier.
    """
    findings = list(findings)
    if not verification.verified:
        findings.insert(0, Finding(Tier.CONTRAINDICATED, 'hardware',
                                   'evidence not verified'))
    vector = {name: TRUST_AFFIRMING for name in VECTOR_CLAIMS}
    tier = Tier.AFFIRMING
    for finding in findings:
        if _ORDER.index(finding.tier) > _ORDER.index(tier):
            tier = finding.tier
        value = _TRUST_VALUE[finding.tier]
        if value > vector.get(finding.claim, TRUST_NONE):
            vector[finding.claim] = value
    reasons = list(verification.reasons)
    reasons += [f.reason for f in findings if f.reason not in reasons]
    return AttestationResult(tee=tee, verified=verification.verified,
                             status=tier.value, claims=claims,
                             tcb_status=verification.tcb_status,
                             reasons=reasons, trustworthiness=vector,
                             tcb=dict(tcb))
