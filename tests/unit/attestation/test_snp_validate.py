"""Appraisal of SEV-SNP reports against a policy."""

import pytest

from buckypaper_os.attestation import errors
from buckypaper_os.attestation import policy as policy_mod
from buckypaper_os.attestation import result
from buckypaper_os.attestation.snp import abi
from buckypaper_os.attestation.snp import validate
from tests.unit.attestation import snp_fakes as fakes

OK = result.Verification(True)


def findings(appraisal=None, verification=OK, product=abi.MILAN,
             has_crl=False, **report):
    """Reasons of ``appraisal`` for a report made with ``report`` fields."""
    parsed = abi.parse(fakes.report(None, product, **report))
    return [f.reason for f in validate.validate(
        parsed, product, verification, appraisal or policy_mod.Policy(),
        has_crl)]


def test_default_policy_passes():
    assert findings() == []


def test_debug():
    assert findings(policy=0xB0000) == ['guest has debugging enabled']
    assert findings(policy_mod.Policy(allow_debug=True), policy=0xB0000) == []


def test_crl_required_only_when_the_policy_says_so():
    strict = policy_mod.Policy(require_crl=True)
    assert findings(strict) == [validate.NO_CRL]
    assert findings(strict, has_crl=True) == []
    assert findings(has_crl=False) == []


def test_vmpl():
    assert findings(policy_mod.Policy(vmpl=0), vmpl=0) == []
    assert findings(policy_mod.Policy(vmpl=0), vmpl=1) == [
        'VMPL 1 is not the required VMPL 0']


def test_min_tcb_per_component():
    assert findings(policy_mod.Policy(min_tcb={'snp': 8, 'ucode': 115})) == []
    assert findings(policy_mod.Policy(min_tcb={'snp': 9})) == [
        'TCB component snp is 8, below minimum 9']
    assert findings(policy_mod.Policy(min_tcb={'fmc': 1})) == [
        'TCB component fmc is not reported']
    assert findings(policy_mod.Policy(min_tcb={'fmc': 1}),
                    product=abi.TURIN) == []


def test_measurement_and_bindings():
    good = policy_mod.Policy(measurements=('11' * 48,),
                             report_data='22' * 64, host_data='33' * 32)
    assert findings(good) == []
    bad = policy_mod.Policy(measurements=('44' * 48,),
                            report_data='55' * 64, host_data='66' * 32)
    assert findings(bad) == [
        'measurement %s is not an allowed value' % ('11' * 48),
        'report_data does not match the expected value',
        'host_data does not match the expected value']


def test_policy_bits():
    policy = policy_mod.Policy(snp_policy_set=0x10000,
                               snp_policy_clear=0x100000)
    assert findings(policy, policy=0x30000) == []
    assert findings(policy, policy=0x120000) == [
        'guest policy 0x120000 lacks required bits 0x10000',
        'guest policy 0x120000 has forbidden bits 0x100000']


def test_migration_agent_refused_unless_allowed():
    ma = 0x30000 | 1 << 18
    assert findings(policy_mod.Policy(), policy=ma) == [
        'guest policy 0x70000 allows a migration agent']
    assert findings(policy_mod.Policy.from_dict(
        {'allow_migration_agent': True}), policy=ma) == []


def test_min_abi():
    policy = policy_mod.Policy(snp_min_abi='1.51')
    assert findings(policy, policy=0x30000 | 0x0133) == []
    assert findings(policy, policy=0x30000 | 0x0200) == []
    assert findings(policy, policy=0x30000 | 0x0132) == [
        'guest policy allows ABI 1.50, below the minimum 1.51']
    with pytest.raises(errors.EvidenceError, match='snp_min_abi'):
        findings(policy_mod.Policy(snp_min_abi='one'))


def test_stale():
    stale = result.Verification(True, stale=['SEV-VCEK expired at X'])
    assert findings(verification=stale) == ['SEV-VCEK expired at X']
    assert findings(policy_mod.Policy(check_validity=False),
                    verification=stale) == []
