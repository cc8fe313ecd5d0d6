"""Nitride's decisions end to end in one process: simulated TEE guests."""

import datetime
import time
import uuid

from oslo_config import cfg
import oslo_messaging as messaging
import pytest
import sqlalchemy as sa

from buckypaper_os import attestation
from buckypaper_os import binding
from buckypaper_os.nitride_service import appraisal
from buckypaper_os.nitride_service import audit
from buckypaper_os.nitride_service.db import api as db_api
from buckypaper_os.nitride_service import decision
from buckypaper_os.nitride_service import engine as engine_mod
from buckypaper_os.nitride_service import jwk
from buckypaper_os.nitride_service import service
from buckypaper_os.nitride_service import token
from tests.unit.attestation import tdx_fakes
from tests.unit.nitride import conftest
from tests.unit.nitride import guests
from tests import vectors

PROJECT = 'project-a'
#: The Vault's challenge (the engine signs over it; any fresh one will do).
CHALLENGE = decision.new_challenge()
MEASUREMENT = guests.MEASUREMENT.hex()
#: The MRTD of tdx_fakes' TD reports.
TDX_MRTD = (b'\x11' * 48).hex()


def _instance() -> str:
    return str(uuid.uuid4())


def _register(engine, instance, project=PROJECT, **kwargs):
    kwargs.setdefault('measurements', [MEASUREMENT])
    return engine.register(instance, project, 'sev-snp', **kwargs)


_attest = guests.attest
_refused = conftest.refused


def _appraised(engine) -> dict:
    """The submod claim of a token appraised under ``engine``'s policy."""
    return {appraisal.POLICY_ID: engine.policy_id}


def _last_audit(instance):
    return db_api.audit_list(instance)[-1]


@pytest.fixture
def guest(engine, pki):
    instance = _instance()
    _register(engine, instance)
    return guests.Guest(pki, instance, PROJECT)


def test_register_challenge_attest_release(engine, guest):
    answer = _attest(engine, guest)
    assert answer['status'] == 'affirming'
    assert answer['simulated'] is True
    claims = engine.verify_ticket(answer['token'])
    submod = claims['submods']['sev-snp']
    assert claims[token.INSTANCE] == guest.instance_uuid
    assert submod[engine_mod.SIMULATED] is True
    assert submod[token.CLAIMS]['host_data'] == binding.host_data(
        guest.instance_uuid, PROJECT).hex()
    release = engine.authorize_release(
        answer['token'], 'secret-1', PROJECT,
        {'instance': guest.instance_uuid, 'tee': 'sev-snp'}, CHALLENGE)
    assert release['allowed'], release['reasons']
    assert engine_mod.b64decode(release['tee_public_key'], 'key',
                                4096) == guest.public_key
    events = [(e['event'], e['decision'])
              for e in db_api.audit_list(guest.instance_uuid)]
    assert events == [('register', 'registered'), ('challenge', 'issued'),
                      ('attest', 'affirming'), ('release', 'allowed')]
    status = engine.status(guest.instance_uuid)
    assert status['status'] == 'affirming' and 'token' not in status


def test_racing_registration_of_another_project_is_refused(
        engine, monkeypatch):
    """Another project's registration lands between our check and insert."""
    instance = _instance()
    _register(engine, instance, project='project-b')
    real = db_api.binding_get
    calls = []

    def late(instance_uuid):  # the first read misses the other binding
        calls.append(instance_uuid)
        return None if len(calls) == 1 else real(instance_uuid)

    monkeypatch.setattr(db_api, 'binding_get', late)
    exc = _refused(_register, engine, instance)
    assert exc.code == 409 and len(calls) == 2
    assert db_api.reference_get(instance)['project_id'] == 'project-b'


def test_binding_is_recomputed_not_trusted(engine):
    instance = _instance()
    wrong = binding.host_data(_instance(), PROJECT).hex()
    exc = _refused(_register, engine, instance, binding_hex=wrong)
    assert exc.code == 400 and 'not the documented binding' in exc.reasons[0]
    right = binding.host_data(instance, PROJECT).hex()
    assert _register(engine, instance, binding_hex=right)['binding'] == right


def test_unknown_instance(engine):
    instance = _instance()
    exc = _refused(engine.challenge, instance)
    assert (exc.code, exc.reasons) == (404, ['unknown instance'])
    assert _last_audit(instance)['decision'] == 'refused'


def test_nonce_reused(engine, guest):
    nonce = engine_mod.b64decode(
        engine.challenge(guest.instance_uuid)['nonce'], 'nonce', 64)
    _attest(engine, guest, nonce)
    exc = _refused(_attest, engine, guest, nonce)
    assert exc.reasons == ['nonce already used']


def test_nonce_expired(engine, guest):
    past = datetime.datetime.utcnow() - datetime.timedelta(minutes=5)
    nonce = db_api.nonce_create(guest.instance_uuid, 60, now=past)
    assert _refused(_attest, engine, guest, nonce).reasons == [
        'nonce expired']


def test_nonce_of_another_instance(engine, guest, pki):
    other = guests.Guest(pki, _instance(), PROJECT)
    _register(engine, other.instance_uuid)
    nonce = engine_mod.b64decode(
        engine.challenge(other.instance_uuid)['nonce'], 'nonce', 64)
    assert _refused(_attest, engine, guest, nonce).reasons == [
        'nonce issued to another instance']


def test_report_data_must_bind_nonce_and_key(engine, guest):
    exc = _refused(_attest, engine, guest, report_data=bytes(64))
    assert 'report_data does not match the expected value' in exc.reasons


def test_host_data_of_another_instance(engine, pki):
    instance = _instance()
    _register(engine, instance)
    impostor = guests.Guest(pki, instance, PROJECT,
                            host_data=binding.host_data(_instance(), PROJECT))
    exc = _refused(_attest, engine, impostor)
    assert 'host_data does not match the expected value' in exc.reasons


def test_measurement_not_the_reference(engine, pki):
    instance = _instance()
    _register(engine, instance, measurements=['11' * 48])
    exc = _refused(_attest, engine, guests.Guest(pki, instance, PROJECT))
    assert any(r.startswith('measurement %s is not an allowed value'
                            % MEASUREMENT) for r in exc.reasons)


def test_debug_guest(engine, pki):
    instance = _instance()
    _register(engine, instance)
    debug = guests.Guest(pki, instance, PROJECT, policy=0x30000 | 1 << 19)
    assert 'guest has debugging enabled' in _refused(
        _attest, engine, debug).reasons


def test_tcb_below_the_flavor_minimum(engine, pki):
    engine.set_policy('flavor', 'cvm.large', {'min_tcb': {'snp': 200}})
    instance = _instance()
    _register(engine, instance, flavor_id='cvm.large')
    exc = _refused(_attest, engine, guests.Guest(pki, instance, PROJECT))
    assert any('TCB component snp' in r and 'below minimum 200' in r
               for r in exc.reasons)


def test_simulated_evidence_refused_when_simulation_is_off(
        nitride_conf, pki):
    nitride_conf.set_override('simulated_tee_trust_dir', None, 'nitride')
    engine = engine_mod.Engine(nitride_conf)
    instance = _instance()
    _register(engine, instance)
    exc = _refused(_attest, engine, guests.Guest(pki, instance, PROJECT))
    assert 'evidence not verified' in exc.reasons
    assert any('not issued by the trusted ASK' in r for r in exc.reasons)


def test_simulated_tickets_release_nothing_without_simulation(
        engine, guest, nitride_conf, decision_key_file):
    """A ticket of a simulated TEE, shown to a Nitride of real TEEs."""
    ticket = _token(engine, guest)
    nitride_conf.set_override('simulated_tee_trust_dir', None, 'nitride')
    real = engine_mod.Engine(nitride_conf,
                             decision_key=decision.load_private_key(
                                 decision_key_file))
    policy = {'instance': guest.instance_uuid}
    assert engine.authorize_release(ticket, 's', PROJECT, policy,
                                    CHALLENGE)['allowed']
    answer = real.authorize_release(ticket, 's', PROJECT, policy, CHALLENGE)
    assert answer['reasons'] == [
        'attestation is simulated and simulation is not trusted']


@pytest.mark.parametrize('size', [0, engine_mod.MAX_PUBLIC_KEY + 1])
def test_tee_public_key_size(engine, guest, size):
    nonce = engine_mod.b64decode(engine.challenge(guest.instance_uuid)[
        'nonce'], 'nonce', 64)
    report, certs = guest.evidence(nonce)
    exc = _refused(engine.attest, guest.instance_uuid, nonce, report, certs,
                   b'k' * size)
    assert exc.code == 400
    assert exc.reasons == ['tee_public_key must be 1..4096 bytes']


@vectors.needs_vectors
def test_no_reference_measurement_is_refused(engine):
    """With no reference, the evidence of any image would pass."""
    instance = _instance()
    exc = _refused(engine.register, instance, PROJECT, 'sev-snp', [])
    assert exc.code == 400
    assert 'at least one reference measurement is required' in str(exc)
    assert db_api.binding_get(instance) is None


def test_real_evidence_cannot_bind_a_fresh_nonce(engine):
    case = vectors.Case('snp-genoa-v3')
    instance = _instance()
    _register(engine, instance, measurements=['ab' * 48])
    nonce = engine_mod.b64decode(engine.challenge(instance)['nonce'],
                                 'nonce', 64)
    exc = _refused(engine.attest, instance, nonce, case.evidence,
                   case.certs, b'k' * 32)
    assert 'report_data does not match the expected value' in exc.reasons
    assert 'host_data does not match the expected value' in exc.reasons


def _token(engine, guest):
    return _attest(engine, guest)['token']


@pytest.mark.parametrize('policy, project, reason', [
    ({'instance': 'other'}, PROJECT, 'secret is bound to another instance'),
    ({'project': 'project-b'}, PROJECT, 'secret is bound to another project'),
    ({'instance': None}, PROJECT, 'secret is bound to no instance'),
    ({'tee': 'tdx'}, PROJECT, 'secret requires TEE tdx, not sev-snp'),
    ({'min_tcb': {'snp': 99}}, PROJECT, 'below the secret\'s minimum 99'),
    ({}, 'project-b', 'secret belongs to another project'),
    # A component the attestation does not report is not a pass.
    ({'min_tcb': {'tee_tcb_svn_0': 0}}, PROJECT,
     'TCB component tee_tcb_svn_0 is None'),
])
def test_release_refusals(engine, guest, policy, project, reason):
    ticket = _token(engine, guest)
    release_policy = {'instance': guest.instance_uuid}
    release_policy.update(policy)
    answer = engine.authorize_release(ticket, 's', project, release_policy,
                                      CHALLENGE)
    assert answer['allowed'] is False and 'tee_public_key' not in answer
    assert any(reason in r for r in answer['reasons']), answer['reasons']
    assert _last_audit(guest.instance_uuid)['decision'] == 'refused'


@pytest.mark.parametrize('minimum, allowed', [(3, True), (4, False)])
def test_release_min_tcb_of_a_tdx_secret(engine, minimum, allowed):
    """A TDX attestation carries TEE_TCB_SVN as tee_tcb_svn_<i>."""
    instance = _instance()
    engine.register(instance, PROJECT, 'tdx', [TDX_MRTD])
    result = attestation.AttestationResult(
        tee='tdx', verified=True, status='affirming', claims={},
        tcb={'tee_tcb_svn_0': 3, 'tee_tcb_svn_1': 1})
    issued = token.issue(engine.signer, result, instance, PROJECT,
                         b'k' * 32, 60, extra=_appraised(engine))
    db_api.attestation_create(instance, PROJECT, 'tdx', 'affirming', {},
                              token_jti=issued.jti, token=issued.token)
    answer = engine.authorize_release(issued.token, 's', PROJECT, {
        'instance': instance, 'tee': 'tdx',
        'min_tcb': {'tee_tcb_svn_0': minimum}}, CHALLENGE)
    assert answer['allowed'] is allowed, answer['reasons']


def _fields(ticket, guest, policy, challenge, project=PROJECT):
    return (challenge, ticket, 's', project, policy, guest.instance_uuid,
            engine_mod.b64encode(guest.public_key))


def test_release_decision_signed_over_the_call(engine, guest,
                                               decision_key_file):
    ticket = _token(engine, guest)
    policy = {'instance': guest.instance_uuid, 'tee': 'sev-snp'}
    challenge = decision.new_challenge()
    answer = engine.authorize_release(ticket, 's', PROJECT, policy,
                                      challenge)
    assert answer['allowed'], answer['reasons']
    public = [decision.load_private_key(decision_key_file).public_key()]
    decision.verify(public, answer['signature'], decision.statement(
        *_fields(ticket, guest, policy, challenge)))
    with pytest.raises(decision.DecisionError):
        decision.verify(public, answer['signature'], decision.statement(
            *_fields(ticket, guest, {'project': PROJECT}, challenge)))
    # A refusal carries no signature.
    refused = engine.authorize_release(ticket, 's', 'project-b', policy,
                                       challenge)
    assert not refused['allowed'] and 'signature' not in refused


def test_no_decision_key_refuses_releases(engine, guest, nitride_conf):
    """The guest API's engine: it never holds the decision key."""
    unsigned = engine_mod.Engine(nitride_conf)
    ticket = _token(engine, guest)
    answer = unsigned.authorize_release(ticket, 's', PROJECT, {
        'instance': guest.instance_uuid}, CHALLENGE)
    assert answer['reasons'] == ['the verifier cannot sign decisions']
    assert _last_audit(guest.instance_uuid)['decision'] == 'refused'


def test_workers_load_the_decision_key(nitride_conf, decision_key_file):
    worker = service.build_engine(nitride_conf)
    assert worker.decision_key.public_key() == decision.load_private_key(
        decision_key_file).public_key()


def test_workers_poll_quietly_unless_nova_events_are_prefetched():
    conf = cfg.ConfigOpts()
    conf([])
    assert service.may_quiet(conf, None)  # no rabbit options yet
    messaging.get_rpc_transport(conf, url='rabbit://u:p@127.0.0.1:9/')
    listener = object()
    assert service.may_quiet(conf, None)
    assert service.may_quiet(conf, listener)
    conf.set_override('rabbit_qos_prefetch_count', 10,
                      'oslo_messaging_rabbit')
    assert service.may_quiet(conf, None)
    assert not service.may_quiet(conf, listener)


def test_decision_key_must_be_ed25519_and_private(token_key_file,
                                                  decision_key_file,
                                                  tmp_path):
    with pytest.raises(decision.DecisionError, match='not an Ed25519 key'):
        decision.load_private_key(token_key_file)
    shared = tmp_path / 'shared.pem'
    with open(decision_key_file, 'rb') as f:
        shared.write_bytes(f.read())
    shared.chmod(0o640)
    with pytest.raises(decision.DecisionError, match='mode 0600'):
        decision.load_private_key(str(shared))


@pytest.mark.parametrize('min_tcb', [['snp', 20], {'snp': '20'},
                                     {'snp': 2.5}])
def test_malformed_min_tcb_refused_and_audited(engine, guest, min_tcb):
    answer = engine.authorize_release(_token(engine, guest), 's', PROJECT, {
        'instance': guest.instance_uuid, 'min_tcb': min_tcb}, CHALLENGE)
    assert answer['reasons'] == [
        'release policy min_tcb is not an object of integers']
    assert _last_audit(guest.instance_uuid)['decision'] == 'refused'


def test_release_bound_to_project(engine, guest):
    answer = engine.authorize_release(_token(engine, guest), 's', PROJECT,
                                      {'project': PROJECT}, CHALLENGE)
    assert answer['allowed'], answer['reasons']


def test_release_refused_for_a_forged_ticket(engine, guest):
    head, payload, signature = _token(engine, guest).split('.')
    forged = '.'.join([head, payload, signature[:-4] + 'AAAA'])
    answer = engine.authorize_release(forged, 's', PROJECT,
                                      {'instance': guest.instance_uuid},
                                      CHALLENGE)
    assert not answer['allowed']
    assert answer['reasons'] == ['ticket refused: ES384 signature invalid']


def test_release_refused_and_audited_for_a_nested_ticket(engine):
    answer = engine.authorize_release('{"payload":' + '[' * 20000, 's',
                                      PROJECT, {'project': PROJECT}, CHALLENGE)
    assert answer['reasons'] == ['ticket refused: token is not valid JSON']
    (event,) = [e for e in db_api.audit_list() if e['event'] == 'release']
    assert event['decision'] == audit.REFUSED


def test_audit_reasons_are_bounded(engine):
    engine.auditor.record('verify', audit.REFUSED, ['x' * 100000] * 1000)
    (event,) = db_api.audit_list()
    assert len(event['reasons']) == audit.MAX_REASONS
    assert all(len(r) <= audit.MAX_REASON + 3 for r in event['reasons'])


def test_release_refused_for_an_expired_ticket(engine, guest):
    ticket = _token(engine, guest)
    claims = engine.verify_ticket(ticket)
    result = attestation.AttestationResult(
        tee='sev-snp', verified=True, status='affirming',
        claims=claims['submods']['sev-snp'][token.CLAIMS])
    expired = token.issue(engine.signer, result, guest.instance_uuid,
                          PROJECT, guest.public_key, 60,
                          now=time.time() - 3600).token
    answer = engine.authorize_release(expired, 's', PROJECT,
                                      {'instance': guest.instance_uuid},
                                      CHALLENGE)
    assert answer['reasons'] == ['ticket refused: token expired']


def test_release_refused_for_an_unrecorded_ticket(engine, guest):
    """A validly signed token that Nitride never recorded (a key leak)."""
    claims = engine.verify_ticket(_token(engine, guest))
    result = attestation.AttestationResult(
        tee='sev-snp', verified=True, status='affirming',
        claims=claims['submods']['sev-snp'][token.CLAIMS])
    unrecorded = token.issue(engine.signer, result, guest.instance_uuid,
                             PROJECT, guest.public_key, 60,
                             extra=_appraised(engine)).token
    answer = engine.authorize_release(unrecorded, 's', PROJECT,
                                      {'instance': guest.instance_uuid},
                                      CHALLENGE)
    assert answer['reasons'] == ['no attestation recorded for this ticket']


def test_release_refused_for_a_ticket_moved_to_another_instance(
        engine, guest):
    """A recorded jti, re-signed for another instance (a key leak)."""
    claims = engine.verify_ticket(_token(engine, guest))
    other = _instance()
    _register(engine, other)
    moved = engine.signer.sign(dict(claims, **{token.INSTANCE: other}))
    answer = engine.authorize_release(moved, 's', PROJECT,
                                      {'instance': other}, CHALLENGE)
    assert answer['reasons'] == ['no attestation recorded for this ticket']


def test_release_refused_after_the_instance_is_removed(engine, guest):
    ticket = _token(engine, guest)
    assert engine.remove(guest.instance_uuid)
    answer = engine.authorize_release(ticket, 's', PROJECT,
                                      {'instance': guest.instance_uuid},
                                      CHALLENGE)
    assert 'instance is no longer registered' in answer['reasons']
    assert _last_audit(guest.instance_uuid)['event'] == 'release'


def test_warning_releases_only_when_configured(engine, guest, nitride_conf):
    claims = engine.verify_ticket(_token(engine, guest))
    result = attestation.AttestationResult(
        tee='sev-snp', verified=True, status='warning',
        claims=claims['submods']['sev-snp'][token.CLAIMS])
    issued = token.issue(engine.signer, result, guest.instance_uuid,
                         PROJECT, guest.public_key, 60,
                         extra=_appraised(engine))
    db_api.attestation_create(guest.instance_uuid, PROJECT, 'sev-snp',
                              'warning', result.claims, [], True,
                              token_jti=issued.jti, token=issued.token)
    policy = {'instance': guest.instance_uuid}
    answer = engine.authorize_release(issued.token, 's', PROJECT, policy,
                                      CHALLENGE)
    assert answer['reasons'] == ['attestation is warning']
    nitride_conf.set_override('release_on_warning', True, 'nitride')
    try:
        assert engine.authorize_release(issued.token, 's', PROJECT,
                                        policy, CHALLENGE)['allowed']
    finally:
        nitride_conf.clear_override('release_on_warning', 'nitride')


def test_challenge_rate_limit(engine, guest, nitride_conf):
    nitride_conf.set_override('challenge_burst', 3, 'nitride')
    try:
        for _ in range(3):
            engine.challenge(guest.instance_uuid)
        exc = _refused(engine.challenge, guest.instance_uuid)
    finally:
        nitride_conf.clear_override('challenge_burst', 'nitride')
    assert exc.code == 429 and exc.retry_after == 2


def test_policy_documents_are_validated(engine):
    exc = _refused(engine.set_policy, 'project', PROJECT,
                   {'allow_debug': 'no'})
    assert exc.code == 400
    exc = _refused(engine.set_policy, 'project', PROJECT,
                   {'token_lifetime': 0})
    assert 'token_lifetime' in exc.reasons[0]
    document = {'token_lifetime': 60, 'min_tcb': {'snp': 1}}
    assert engine.set_policy('project', PROJECT, document) == document
    assert engine.get_policy('project', PROJECT) == document


def test_export_reverifies_offline(engine, guest):
    _attest(engine, guest)
    exported = engine.export(instance_uuid=guest.instance_uuid)
    keys = jwk.from_jwks(exported['jwks'])
    (record,) = exported['attestations']
    claims = token.verify(record['token'], keys, leeway=0)
    assert claims['jti'] == record['token_jti']
    assert [e['event'] for e in exported['audit']] == [
        'register', 'challenge', 'attest']


def test_decisions_are_notified(nitride_conf, pki):
    from oslo_messaging.notify import _impl_test
    transport = messaging.get_notification_transport(nitride_conf,
                                                     url='fake://')
    notifier = messaging.Notifier(transport, publisher_id='nitride.test',
                                  driver='test', topics=['notifications'])
    engine = engine_mod.Engine(nitride_conf, audit.Auditor(notifier))
    _impl_test.reset()
    instance = _instance()
    _register(engine, instance)
    engine.challenge(instance)
    _refused(engine.challenge, _instance())
    sent = [n[1] for n in _impl_test.NOTIFICATIONS]
    assert [(n['event_type'], n['priority']) for n in sent] == [
        ('nitride.register', 'INFO'), ('nitride.challenge', 'INFO'),
        ('nitride.challenge', 'WARN')]
    assert sent[2]['payload']['decision'] == 'refused'
    assert sent[2]['payload']['reasons'] == ['unknown instance']
    assert sent[1]['payload']['audit_id'] == db_api.audit_list(
        instance)[-1]['id']


def test_tdx_mr_config_id_of_another_instance(engine):
    """A TDX quote whose MRCONFIGID is not this instance's binding."""
    instance = _instance()
    engine.register(instance, PROJECT, 'tdx', [TDX_MRTD])
    nonce = engine_mod.b64decode(engine.challenge(instance)['nonce'],
                                 'nonce', 64)
    key = b'k' * 32
    quote = tdx_fakes.make_quote(tdx_fakes.make_pki(), body=tdx_fakes.td_body(
        report_data=binding.report_data(nonce, key)))
    exc = _refused(engine.attest, instance, nonce, quote, [], key)
    assert 'mr_config_id does not match the expected value' in exc.reasons
    assert 'report_data does not match the expected value' not in (
        exc.reasons)


def test_a_decision_whose_record_fails_is_not_taken(engine, guest,
                                                    monkeypatch):
    """No audit record, no nonce and no token: the caller gets an error."""
    def broken(*args, **kwargs):
        raise RuntimeError('audit log unavailable')

    challenged = engine.challenge(guest.instance_uuid)
    nonce = engine_mod.b64decode(challenged['nonce'], 'nonce', 64)
    report, certs = guest.evidence(nonce)
    records = len(db_api.audit_list(guest.instance_uuid))
    monkeypatch.setattr(db_api, 'audit_append', broken)
    with pytest.raises(RuntimeError):
        engine.challenge(guest.instance_uuid)
    with pytest.raises(RuntimeError):
        engine.attest(guest.instance_uuid, nonce, report, certs,
                      guest.public_key)
    monkeypatch.undo()
    assert db_api.attestation_get_latest(guest.instance_uuid) is None
    assert len(db_api.audit_list(guest.instance_uuid)) == records
    # Only the challenge issued before the failure was ever handed out:
    # its nonce was consumed by the failed attestation, none other exists.
    with db_api.get_engine().connect() as connection:
        assert connection.execute(sa.text(
            'SELECT COUNT(*) FROM nonces WHERE instance_uuid = :i'),
            {'i': guest.instance_uuid}).scalar() == 1
