"""Keys of the appraisal policy that only the operator's file sets."""

import json
import uuid

import pytest

from buckypaper_os.nitride_service import appraisal
from buckypaper_os.nitride_service.db import api as db_api
from buckypaper_os.nitride_service import decision
from buckypaper_os.nitride_service import engine as engine_mod
from tests.unit.nitride import conftest
from tests.unit.nitride import guests

PROJECT = 'project-a'
MEASUREMENT = guests.MEASUREMENT.hex()
#: An SEV-SNP guest policy with DEBUG (bit 19): the host can read it.
DEBUG_POLICY = 0x30000 | 1 << 19
_attest = guests.attest
_refused = conftest.refused


@pytest.fixture
def build(nitride_conf, decision_key_file, tmp_path):
    """An engine with ``locked`` keys and, optionally, a policy file."""
    def engine(locked=None, policy_file=None):
        if locked is not None:
            nitride_conf.set_override('locked_policy_keys', locked,
                                      'nitride')
        if policy_file is not None:
            path = tmp_path / 'policy.json'
            path.write_text(json.dumps(policy_file))
            nitride_conf.set_override('policy_file', str(path),
                                      'attestation')
        return engine_mod.Engine(nitride_conf,
                                 decision_key=decision.load_private_key(
                                     decision_key_file))
    yield engine
    nitride_conf.clear_override('locked_policy_keys', 'nitride')
    nitride_conf.clear_override('policy_file', 'attestation')


def _debug_guest(engine, pki, **register):
    instance = str(uuid.uuid4())
    engine.register(instance, PROJECT, 'sev-snp', [MEASUREMENT], **register)
    return guests.Guest(pki, instance, PROJECT, policy=DEBUG_POLICY)


def test_only_what_the_registration_does_not_fix_can_be_locked():
    assert appraisal.locks(['allow_debug', 'min_tcb', 'token_lifetime']) == {
        'allow_debug', 'min_tcb', 'token_lifetime'}
    for key in ('measurements', 'host_data', 'report_data', 'mr_config_id',
                'allow_debugging'):
        with pytest.raises(appraisal.PolicyError, match=key):
            appraisal.locks(['allow_debug', key])


def test_a_bad_lock_stops_the_engine(build):
    with pytest.raises(appraisal.PolicyError):
        build(locked=['measurements'])


def test_documents_cannot_unlock_debug_guests_by_default(build):
    engine = build()
    refusal = _refused(engine.set_policy, 'project', PROJECT,
                       {'allow_debug': True, 'token_lifetime': 60})
    assert refusal.code == 403
    assert refusal.reasons == ['policy key allow_debug is locked by the '
                               'operator ([nitride] locked_policy_keys)']
    assert engine.get_policy('project', PROJECT) is None
    last = db_api.audit_list()[-1]
    assert (last['event'], last['decision']) == ('policy', 'refused')
    refusal = _refused(engine.set_policy, 'flavor', 'f1',
                       {'allow_migration_agent': True})
    assert refusal.code == 403
    # The locked value itself may be restated.
    assert engine.set_policy('flavor', 'f1', {'allow_debug': False}) == {
        'allow_debug': False}


def test_a_registration_cannot_unlock_them_either(build, pki):
    engine = build()
    instance = str(uuid.uuid4())
    refusal = _refused(engine.register, instance, PROJECT, 'sev-snp',
                       [MEASUREMENT], policy={'allow_debug': True})
    assert refusal.code == 403 and 'allow_debug is locked' in (
        refusal.reasons[0])
    assert db_api.binding_get(instance) is None
    last = db_api.audit_list(instance)[-1]
    assert (last['event'], last['decision']) == ('register', 'refused')


def test_documents_stored_before_the_lock_are_appraised_without_it(
        build, pki):
    unlocked = build(locked=[])
    guest = _debug_guest(unlocked, pki)
    unlocked.set_policy('project', PROJECT, {'allow_debug': True})
    # Without the lock the project's document admits the debug guest ...
    assert _attest(unlocked, guest)['status'] == 'affirming'
    # ... with it (the default), the same stored document does not.
    refusal = _refused(_attest, build(locked=['allow_debug']), guest)
    assert any('debug' in reason.lower() for reason in refusal.reasons), (
        refusal.reasons)


def test_the_operators_file_sets_a_locked_key(build, pki):
    engine = build(policy_file={'allow_debug': True})
    # Documents may restate the file's value, not another one.
    engine.set_policy('project', PROJECT, {'allow_debug': True})
    assert _refused(engine.set_policy, 'project', PROJECT,
                    {'allow_debug': False}).code == 403
    assert _attest(engine, _debug_guest(engine, pki))['status'] == (
        'affirming')


def test_a_locked_token_lifetime(build, pki):
    engine = build(locked=['token_lifetime'],
                   policy_file={'token_lifetime': 120})
    assert _refused(engine.set_policy, 'project', PROJECT,
                    {'token_lifetime': 3600}).code == 403
    instance = str(uuid.uuid4())
    engine.register(instance, PROJECT, 'sev-snp', [MEASUREMENT],
                    policy={'token_lifetime': 120})
    guest = guests.Guest(pki, instance, PROJECT)
    assert _attest(engine, guest)['expires_in'] == 120
