"""Appraisal of a parsed, verified TDX quote against a :class:`Policy`."""

import typing

from buckypaper_os.attestation import checks
from buckypaper_os.attestation import policy as policy_mod
from buckypaper_os.attestation import result
from buckypaper_os.attestation.tdx import abi
from buckypaper_os.attestation.tdx import collateral

DEBUG_BIT = 0
SEPT_VE_DISABLE_BIT = 28
#: A migratable TD's memory may be exported by a migration TD.
MIGRATABLE_BIT = 29
NO_COLLATERAL = 'no collateral: TCB status unknown'
_BAD = result.Tier.CONTRAINDICATED


def validate(q: abi.Quote, verification: result.Verification,
             policy: policy_mod.Policy,
             has_collateral: bool) -> typing.List[result.Finding]:
    """Findings of the policy on the quote's TD report and TCB status."""
    report = q.report
    attributes = int.from_bytes(report.td_attributes, 'little')
    findings = checks.debug(bool(attributes >> DEBUG_BIT & 1), policy)
    if attributes >> MIGRATABLE_BIT & 1 and not policy.allow_migration_agent:
        findings.append(result.Finding(
            _BAD, 'configuration', 'TD_ATTRIBUTES.MIGRATABLE is set'))
    if policy.require_sept_ve_disable and not (
            attributes >> SEPT_VE_DISABLE_BIT & 1):
        findings.append(result.Finding(
            _BAD, 'configuration', 'TD_ATTRIBUTES.SEPT_VE_DISABLE is clear'))
    findings += _tcb_status(verification.tcb_status, policy, has_collateral)
    findings += checks.one_of('mr_td', report.mr_td.hex(),
                              policy.measurements, 'executables')
    findings += _rtmrs(report.rtmrs, policy)
    for name, value, expected in (
            ('report_data', report.report_data, policy.report_data),
            ('mr_config_id', report.mr_config_id, policy.mr_config_id),
            ('mr_owner', report.mr_owner, policy.mr_owner)):
        findings += checks.equal(name, value.hex(), expected,
                                 'instance-identity')
    findings += checks.min_tcb(abi.tcb(report), policy)
    findings += checks.stale(verification, policy)
    return findings


def _tcb_status(status: typing.Optional[str], policy: policy_mod.Policy,
                has_collateral: bool) -> typing.List[result.Finding]:
    if status is None:
        if not has_collateral and policy.require_collateral:
            return [result.Finding(_BAD, 'hardware', NO_COLLATERAL)]
        return []
    if status == collateral.UP_TO_DATE:
        return []
    tier = (result.Tier.WARNING if status in policy.tcb_status_warn
            else _BAD)
    return [result.Finding(tier, 'hardware', 'TCB status is %s' % status)]


def _rtmrs(rtmrs: typing.Sequence[bytes],
           policy: policy_mod.Policy) -> typing.List[result.Finding]:
    findings = []
    for index, allowed in sorted(policy.rtmrs.items()):
        if index not in ('0', '1', '2', '3'):
            findings.append(result.Finding(
                _BAD, 'executables', 'policy names unknown RTMR %s' % index))
            continue
        findings += checks.one_of('rtmr%s' % index, rtmrs[int(index)].hex(),
                                  allowed, 'executables')
    return findings
