"""Appraisal of a SEV-SNP report against a :class:`~..policy.Policy`."""

import typing

from buckypaper_os.attestation import checks
from buckypaper_os.attestation import errors
from buckypaper_os.attestation import policy as policy_mod
from buckypaper_os.attestation import result
from buckypaper_os.attestation.snp import abi

_BAD = result.Tier.CONTRAINDICATED
NO_CRL = 'no AMD KDS CRL for the report: revocation unknown'


def validate(report: abi.Report, product: typing.Optional[str],
             verification: result.Verification,
             policy: policy_mod.Policy,
             has_crl: bool) -> typing.List[result.Finding]:
    """Findings of ``policy`` about ``report`` (empty when all pass).

    ``has_crl`` tells whether the certificates were checked against a CRL.
    """
    findings = checks.debug(report.debug, policy)
    if policy.require_crl and not has_crl:
        findings.append(result.Finding(_BAD, 'hardware', NO_CRL))
    if policy.vmpl is not None and report.vmpl != policy.vmpl:
        findings.append(result.Finding(
            _BAD, 'configuration', 'VMPL %d is not the required VMPL %d'
            % (report.vmpl, policy.vmpl)))
    findings += _guest_policy(report.policy, policy)
    findings += checks.min_tcb(abi.decode_tcb(report.reported_tcb, product),
                               policy)
    findings += checks.one_of('measurement', report.measurement.hex(),
                              policy.measurements, 'executables')
    findings += checks.equal('report_data', report.report_data.hex(),
                             policy.report_data, 'instance-identity')
    findings += checks.equal('host_data', report.host_data.hex(),
                             policy.host_data, 'instance-identity')
    findings += checks.stale(verification, policy)
    return findings


def _guest_policy(value: int, policy: policy_mod.Policy
                  ) -> typing.List[result.Finding]:
    """Required / forbidden guest policy bits and the minimum ABI."""
    findings = []
    if value & abi.POLICY_MIGRATE_MA and not policy.allow_migration_agent:
        findings.append(result.Finding(
            _BAD, 'configuration',
            'guest policy %#x allows a migration agent' % value))
    missing = policy.snp_policy_set & ~value
    if missing:
        findings.append(result.Finding(
            _BAD, 'configuration',
            'guest policy %#x lacks required bits %#x' % (value, missing)))
    forbidden = policy.snp_policy_clear & value
    if forbidden:
        findings.append(result.Finding(
            _BAD, 'configuration',
            'guest policy %#x has forbidden bits %#x' % (value, forbidden)))
    if policy.snp_min_abi is not None:
        minimum = _abi_version(policy.snp_min_abi)
        actual = ((value >> 8) & 0xFF, value & 0xFF)
        if actual < minimum:
            findings.append(result.Finding(
                _BAD, 'configuration',
                'guest policy allows ABI %d.%d, below the minimum %d.%d'
                % (actual + minimum)))
    return findings


def _abi_version(text: str) -> typing.Tuple[int, int]:
    try:
        major, minor = (int(part) for part in text.split('.'))
    except ValueError:
        raise errors.EvidenceError(
            'policy snp_min_abi %r is not MAJOR.MINOR' % text) from None
    return major, minor
