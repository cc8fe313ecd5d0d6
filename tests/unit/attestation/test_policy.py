"""The appraisal policy document and the EAR result it leads to."""

import pytest

from buckypaper_os.attestation import errors
from buckypaper_os.attestation import policy
from buckypaper_os.attestation import result


def test_defaults_are_safe():
    p = policy.Policy()
    assert p.allow_debug is False
    assert p.check_validity is True
    assert p.require_collateral is True
    assert 'Revoked' not in p.tcb_status_warn
    assert 'UpToDate' not in p.tcb_status_warn


def test_from_dict_normalizes():
    p = policy.Policy.from_dict({
        'measurements': ['AB' * 48], 'snp_policy_set': '0x30000',
        'min_tcb': {'snp': '8'}, 'host_data': '00' * 32,
        'rtmrs': {0: ['cd' * 48]}})
    assert p.measurements == ('ab' * 48,)
    assert p.snp_policy_set == 0x30000
    assert p.min_tcb == {'snp': 8}
    assert p.rtmrs == {'0': ('cd' * 48,)}


@pytest.mark.parametrize('doc, message', [
    ({'debug': True}, 'unknown policy keys: debug'),
    ({'host_data': 'zz'}, 'policy host_data: not hex'),
    ({'host_data': '00'}, 'policy host_data: 1 bytes, expected 32'),
    ({'min_tcb': {'snp': 'high'}}, 'policy min_tcb'),
    ([], 'policy must be a JSON object'),
])
def test_from_dict_refuses(doc, message):
    with pytest.raises(errors.EvidenceError, match=message):
        policy.Policy.from_dict(doc)


def test_from_file_refuses_bad_json(tmp_path):
    path = tmp_path / 'p.json'
    path.write_text('{not json')
    with pytest.raises(errors.EvidenceError, match='cannot read policy'):
        policy.Policy.from_file(str(path))


def test_unverified_is_contraindicated_whatever_the_findings():
    res = result.conclude('tdx', {}, result.Verification(
        verified=False, reasons=['quote signature invalid']), [], {})
    assert res.status == 'contraindicated'
    assert res.reasons[0] == 'quote signature invalid'
    assert res.trustworthiness['hardware'] == result.TRUST_CONTRAINDICATED


def test_worst_finding_decides():
    warn = result.Finding(result.Tier.WARNING, 'hardware', 'TCB OutOfDate')
    bad = result.Finding(result.Tier.CONTRAINDICATED, 'configuration',
                         'debug')
    ok = result.Verification(verified=True)
    assert result.conclude('tdx', {}, ok, [], {}).status == 'affirming'
    assert result.conclude('tdx', {}, ok, [warn], {}).status == 'warning'
    res = result.conclude('tdx', {}, ok, [warn, bad], {})
    assert res.status == 'contraindicated'
    assert res.reasons == ['TCB OutOfDate', 'debug']
    assert res.trustworthiness == {
        'instance-identity': 2, 'configuration': 96, 'executables': 2,
        'hardware': 32}


@pytest.mark.parametrize('doc', [
    {'allow_debug': 'false'}, {'allow_debug': 0}, {'check_validity': 'no'},
    {'require_collateral': None}, {'measurements': 5},
    {'measurements': ['ab' * 47]}, {'min_tcb': 'x'}, {'min_tcb': {'snp': 256}},
    {'min_tcb': {'snp': True}}, {'rtmrs': [1]}, {'rtmrs': {'4': []}},
    {'tcb_status_warn': 5}, {'tcb_status_warn': [1]},
    {'snp_policy_set': 1e400}, {'snp_policy_set': 1.5},
    {'snp_policy_set': -1}, {'snp_min_abi': 1.51}, {'snp_min_abi': '1.256'},
    {'vmpl': '1x'}, {'vmpl': 4}, {'host_data': 32},
])
def test_from_dict_refuses_wrong_types(doc):
    """A value of the wrong type is refused, never coerced.

    ``{"allow_debug": "false"}`` would otherwise be truthy and admit debug
    guests.
    """
    (key,) = doc
    with pytest.raises(errors.EvidenceError, match='policy %s: ' % key):
        policy.Policy.from_dict(doc)


def test_from_dict_accepts_null_for_optional_values():
    p = policy.Policy.from_dict({'vmpl': None, 'host_data': None,
                                 'snp_min_abi': None})
    assert p.vmpl is None and p.host_data is None
    assert policy.Policy.from_dict({'vmpl': '0'}).vmpl == 0


def test_deeply_nested_policy_file_is_refused(tmp_path):
    path = tmp_path / 'p.json'
    path.write_text('[' * 100000 + ']' * 100000)
    with pytest.raises(errors.EvidenceError, match='cannot read policy'):
        policy.Policy.from_file(str(path))
