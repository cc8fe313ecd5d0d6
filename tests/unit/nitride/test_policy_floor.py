"""The operator's policy file is the floor of every appraisal."""

import json
import uuid

import pytest

from buckypaper_os import attestation
from buckypaper_os.nitride_service import appraisal
from buckypaper_os.nitride_service import decision
from buckypaper_os.nitride_service import engine as engine_mod
from tests.unit.nitride import conftest
from tests.unit.nitride import guests

PROJECT = 'project-a'
MEASUREMENT = guests.MEASUREMENT.hex()
#: An SEV-SNP guest policy with DEBUG (bit 19): the host can read it.
DEBUG_POLICY = 0x30000 | 1 << 19
_refused = conftest.refused


def _tight(document, floor):
    return appraisal.tighten(attestation.Policy.from_dict(document),
                             attestation.Policy.from_dict(floor))


@pytest.mark.parametrize('document, floor, key, expected', [
    ({'allow_debug': True}, {}, 'allow_debug', False),
    ({'allow_debug': True}, {'allow_debug': True}, 'allow_debug', True),
    ({'allow_debug': False}, {'allow_debug': True}, 'allow_debug', False),
    ({'allow_migration_agent': True}, {}, 'allow_migration_agent', False),
    ({'check_validity': False}, {}, 'check_validity', True),
    ({'check_validity': False}, {'check_validity': False},
     'check_validity', False),
    ({'require_collateral': False}, {}, 'require_collateral', True),
    ({'require_crl': False}, {'require_crl': True}, 'require_crl', True),
    ({'require_sept_ve_disable': False}, {'require_sept_ve_disable': True},
     'require_sept_ve_disable', True),
    ({'min_tcb': {}}, {'min_tcb': {'ucode': 200}}, 'min_tcb',
     {'ucode': 200}),
    ({'min_tcb': {'ucode': 3, 'snp': 22}}, {'min_tcb': {'ucode': 200}},
     'min_tcb', {'ucode': 200, 'snp': 22}),
    ({'min_tcb': {'ucode': 201}}, {'min_tcb': {'ucode': 200}}, 'min_tcb',
     {'ucode': 201}),
    ({'snp_policy_set': 0}, {'snp_policy_set': 1 << 20}, 'snp_policy_set',
     1 << 20),
    ({'snp_policy_clear': 1}, {'snp_policy_clear': 2}, 'snp_policy_clear',
     3),
    ({'snp_min_abi': '1.9'}, {'snp_min_abi': '1.51'}, 'snp_min_abi',
     '1.51'),
    ({}, {'snp_min_abi': '1.51'}, 'snp_min_abi', '1.51'),
    ({'snp_min_abi': '2.0'}, {'snp_min_abi': '1.51'}, 'snp_min_abi', '2.0'),
    ({'tcb_status_warn': ['OutOfDate', 'Revoked']}, {}, 'tcb_status_warn',
     ('OutOfDate',)),
    ({'vmpl': 3}, {'vmpl': 0}, 'vmpl', 0),
    ({'vmpl': 1}, {}, 'vmpl', 1),
    ({'mr_owner': 'aa' * 48}, {'mr_owner': 'bb' * 48}, 'mr_owner',
     'bb' * 48),
    ({'rtmrs': {'0': ['aa' * 48], '2': ['cc' * 48]}},
     {'rtmrs': {'0': ['bb' * 48]}}, 'rtmrs',
     {'0': ('bb' * 48,), '2': ('cc' * 48,)}),
])
def test_documents_only_tighten(document, floor, key, expected):
    assert getattr(_tight(document, floor), key) == expected


def test_what_the_registration_fixes_stays():
    fixed = {'measurements': [MEASUREMENT], 'host_data': '11' * 32,
             'report_data': '22' * 64}
    tight = _tight(fixed, {'measurements': ['ab' * 48],
                           'host_data': '33' * 32})
    assert (tight.measurements, tight.host_data, tight.report_data) == (
        (MEASUREMENT,), '11' * 32, '22' * 64)


@pytest.mark.parametrize('lifetime', [0, appraisal.MAX_TOKEN_LIFETIME + 1,
                                      True, 1.5])
def test_token_lifetime_is_bounded(lifetime):
    with pytest.raises(appraisal.PolicyError, match='token_lifetime'):
        appraisal.validate({'token_lifetime': lifetime})
    assert appraisal.validate({'token_lifetime': 1})


def test_documents_cannot_override_the_registration():
    """The registration's expectations win over every document.

    Project, flavor and instance documents come over RPC.
    """
    fixed = {'measurements': [MEASUREMENT], 'host_data': '11' * 32,
             'report_data': '22' * 64, 'mr_config_id': '33' * 48}
    forged = {'measurements': ['ab' * 48], 'host_data': '44' * 32,
              'report_data': '55' * 64, 'mr_config_id': '66' * 48}
    policy, _ = appraisal.effective([forged, None, dict(forged)], fixed,
                                    300)
    assert (policy.measurements, policy.host_data, policy.report_data,
            policy.mr_config_id) == ((MEASUREMENT,), '11' * 32, '22' * 64,
                                     '33' * 48)


@pytest.fixture
def build(nitride_conf, decision_key_file, tmp_path):
    """An engine with an operator's policy file of ``document``."""
    def engine(document=None):
        path = None
        if document is not None:
            path = tmp_path / 'policy.json'
            path.write_text(json.dumps(document))
        nitride_conf.set_override('policy_file', path and str(path),
                                  'attestation')
        return engine_mod.Engine(nitride_conf,
                                 decision_key=decision.load_private_key(
                                     decision_key_file))
    yield engine
    nitride_conf.clear_override('policy_file', 'attestation')


def _debug_guest(engine, pki, **register):
    instance = str(uuid.uuid4())
    engine.register(instance, PROJECT, 'sev-snp', [MEASUREMENT],
                    flavor_id='f1', **register)
    return guests.Guest(pki, instance, PROJECT, policy=DEBUG_POLICY)


@pytest.mark.parametrize('where', ['project', 'flavor', 'instance'])
def test_no_document_admits_a_debug_guest(build, pki, where):
    engine = build()
    document = {'allow_debug': True}
    if where == 'instance':
        guest = _debug_guest(engine, pki, policy=document)
    else:
        engine.set_policy(where, PROJECT if where == 'project' else 'f1',
                          document)
        guest = _debug_guest(engine, pki)
    refusal = _refused(guests.attest, engine, guest)
    assert any('debug' in reason.lower() for reason in refusal.reasons), (
        refusal.reasons)


def test_the_operators_file_may_admit_debug_guests(build, pki):
    engine = build({'allow_debug': True})
    guest = _debug_guest(engine, pki)
    # A document may still refuse them.
    engine.set_policy('project', PROJECT, {'allow_debug': False})
    assert _refused(guests.attest, engine, guest).reasons
    engine.set_policy('project', PROJECT, {})
    assert guests.attest(engine, guest)['status'] == 'affirming'


@pytest.mark.parametrize('floor, document, lifetime', [
    (None, {}, 300), (None, {'token_lifetime': 60}, 60),
    (None, {'token_lifetime': 86400}, 300),
    ({'token_lifetime': 900}, {}, 900),
    ({'token_lifetime': 900}, {'token_lifetime': 3600}, 900),
    ({'token_lifetime': 900}, {'token_lifetime': None}, 300)])
def test_documents_only_shorten_token_lifetimes(floor, document, lifetime):
    assert appraisal.effective([floor, document], {}, 300,
                               floor=floor)[1] == lifetime


def test_a_policy_file_with_a_token_lifetime_attests(build, pki):
    """Regression: the floor was parsed with Nitride's own key in it."""
    engine = build({'token_lifetime': 120, 'min_tcb': {'snp': 1}})
    instance = str(uuid.uuid4())
    engine.register(instance, PROJECT, 'sev-snp', [MEASUREMENT],
                    policy={'token_lifetime': 600})
    answer = guests.attest(engine, guests.Guest(pki, instance, PROJECT))
    assert answer['status'] == 'affirming' and answer['expires_in'] == 120


def test_releases_need_the_workers_own_appraisal_inputs(build, pki):
    """A guest API with another policy file (or one changed since)."""
    api = build({'min_tcb': {'snp': 1}})
    instance = str(uuid.uuid4())
    api.register(instance, PROJECT, 'sev-snp', [MEASUREMENT])
    ticket = guests.attest(api, guests.Guest(pki, instance, PROJECT))[
        'token']
    policy, challenge = {'instance': instance}, decision.new_challenge()
    assert api.authorize_release(ticket, 's', PROJECT, policy,
                                 challenge)['allowed']
    for worker in (build(), build({'min_tcb': {'snp': 2}})):
        assert worker.policy_id != api.policy_id
        answer = worker.authorize_release(ticket, 's', PROJECT, policy,
                                          challenge)
        assert answer['reasons'] == [
            'the attestation was appraised under another operator policy '
            '(policy file or allowed measurements)']
