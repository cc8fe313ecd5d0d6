"""Nitride over a real RabbitMQ: two workers, one topic, one database."""

import os
import re
import sqlite3
import threading
import time
import uuid

from oslo_context import context as context_mod
import oslo_messaging as messaging
from oslo_messaging._drivers import amqpdriver
import pytest

from buckypaper_os import conf as bp_conf
from buckypaper_os.nitride_service.api import guest_client
from buckypaper_os.nitride_service.db import api as db_api
from buckypaper_os.nitride_service import decision
from buckypaper_os.nitride_service import engine as engine_mod
from buckypaper_os.nitride_service import rpc
from buckypaper_os.nitride_service import rpcapi
from tests.integration import conftest
from tests.unit.nitride import guests
from tests import vectors

CONF = bp_conf.CONF
PROJECT = 'project-int'
_attest = guests.attest
SERVICE = context_mod.RequestContext(user_id='barbican', project_id='svc',
                                     roles=['service'])


@pytest.fixture(scope='module')
def guest_api(deployment):
    """The guest-facing engine, as the API process runs it (same DB)."""
    with deployment.guest_engine() as engine:
        yield engine


def _registered_guest(deployment, pki, **kwargs):
    instance = str(uuid.uuid4())
    deployment.api.register_instance(
        SERVICE, instance, PROJECT, 'sev-snp', [guests.MEASUREMENT.hex()])
    return guests.Guest(pki, instance, PROJECT, **kwargs)


@vectors.needs_vectors
@pytest.mark.parametrize('name', vectors.case_names())
def test_verify_rpc_gives_every_vector_its_verdict(deployment, name):
    case = vectors.Case(name)
    answer = deployment.api.verify(SERVICE, case.evidence,
                                   tee=case.expected['tee'],
                                   certs=case.certs,
                                   collateral=case.collateral_files(),
                                   at=case.at)
    case.check(answer)


def test_simulated_guest_is_authorized_exactly_when_it_must(
        deployment, guest_api, pki):
    guest = _registered_guest(deployment, pki)
    ticket = _attest(guest_api, guest)['token']
    policy = {'instance': guest.instance_uuid, 'tee': 'sev-snp'}
    challenge = decision.new_challenge()
    answer = deployment.api.authorize_release(SERVICE, ticket, 'secret-1',
                                              PROJECT, policy, challenge)
    assert answer['allowed'] is True, answer['reasons']
    assert answer['tee_public_key'] == engine_mod.b64encode(
        guest.public_key)
    # Signed with the key whose public half Barbican's Vault pins.
    decision.verify([decision.load_public_key(
        deployment.decision_public_key_file)], answer['signature'],
        decision.statement(challenge, ticket, 'secret-1', PROJECT, policy,
                           guest.instance_uuid, answer['tee_public_key']))
    other = _registered_guest(deployment, pki)
    refused = deployment.api.authorize_release(
        SERVICE, ticket, 'secret-2', PROJECT,
        {'instance': other.instance_uuid}, decision.new_challenge())
    assert refused == {'allowed': False, 'instance_uuid':
                       guest.instance_uuid,
                       'reasons': ['secret is bound to another instance']}
    refused = deployment.api.authorize_release(
        SERVICE, ticket, 'secret-3', 'project-other', policy,
        decision.new_challenge())
    assert refused['allowed'] is False


@vectors.needs_vectors
def test_real_evidence_cannot_bind_the_nonce(deployment, guest_api):
    case = vectors.Case('snp-genoa-v3')
    instance = str(uuid.uuid4())
    deployment.api.register_instance(SERVICE, instance, PROJECT, 'sev-snp',
                                     ['ab' * 48])
    nonce = engine_mod.b64decode(guest_api.challenge(instance)['nonce'],
                                 'nonce', 64)
    with pytest.raises(engine_mod.Refused) as exc:
        guest_api.attest(instance, nonce, case.evidence, case.certs,
                         b'k' * 32)
    assert 'report_data does not match the expected value' in (
        exc.value.reasons)


def test_guest_over_http_release_over_rpc(deployment, pki):
    """The real path: guest API process, RPC workers, one database."""
    guest = _registered_guest(deployment, pki)
    client = guest_client.GuestClient(deployment.api_url, timeout=20)
    challenge = client.challenge(guest.instance_uuid)
    nonce = engine_mod.b64decode(challenge['nonce'], 'nonce', 64)
    report, certs = guest.evidence(nonce)
    answer = client.attest(guest.instance_uuid, challenge['nonce'], report,
                           certs, guest.public_key)
    assert answer['status'] == 'affirming' and answer['simulated']
    with pytest.raises(guest_client.GuestApiError) as replay:
        client.attest(guest.instance_uuid, challenge['nonce'], report,
                      certs, guest.public_key)
    assert replay.value.status == 403
    assert replay.value.reasons == ['nonce already used']
    verdict = deployment.api.authorize_release(
        SERVICE, answer['token'], 'secret-http', PROJECT,
        {'instance': guest.instance_uuid}, decision.new_challenge())
    assert verdict['allowed'], verdict['reasons']


def test_two_workers_serve_one_topic(deployment, guest_api, pki):
    guest = _registered_guest(deployment, pki)
    ticket = _attest(guest_api, guest)['token']
    for index in range(20):
        assert deployment.api.authorize_release(
            SERVICE, ticket, 'secret-%d' % index, PROJECT,
            {'instance': guest.instance_uuid},
            decision.new_challenge())['allowed']
    per_worker = []
    for index in range(deployment.workers):
        with open('%s/worker-%d.log' % (deployment.root, index)) as f:
            per_worker.append(len(re.findall(r'audit \d+: release allowed',
                                             f.read())))
    assert sum(per_worker) >= 20 and all(per_worker), per_worker
    decisions = [e['decision'] for e in db_api.audit_list(
        guest.instance_uuid) if e['event'] == 'release']
    assert decisions == ['allowed'] * 20


def test_database_locked_is_an_error_never_a_yes(deployment, guest_api,
                                                 pki):
    guest = _registered_guest(deployment, pki)
    ticket = _attest(guest_api, guest)['token']
    lock = sqlite3.connect(deployment.db, timeout=1)
    lock.execute('BEGIN EXCLUSIVE')
    try:
        with pytest.raises(Exception) as exc:
            deployment.api.authorize_release(
                SERVICE, ticket, 's', PROJECT,
                {'instance': guest.instance_uuid}, decision.new_challenge())
        assert not isinstance(exc.value, AssertionError)
    finally:
        lock.rollback()
        lock.close()
    assert deployment.api.authorize_release(
        SERVICE, ticket, 's', PROJECT, {'instance': guest.instance_uuid},
        decision.new_challenge())['allowed']


def test_broker_down_is_an_error_never_a_yes(deployment, tmp_path,
                                             pki_dir):
    """A Nitride whose broker stops mid-life: callers get errors."""
    state = str(tmp_path / 'rabbit')
    url = conftest.start_broker(state, 5692)
    nitride = conftest.Deployment(str(tmp_path), url, pki_dir, workers=1,
                                  topic=deployment.topic)
    try:
        assert nitride.api.get_policy(conftest.ADMIN, 'project',
                                      'x') is None
        conftest.stop_broker(state)
        client = rpcapi.NitrideAPI(nitride.conf, nitride.transport,
                                   timeout=3)
        with pytest.raises(messaging.MessagingException):
            client.authorize_release(SERVICE, 'any-ticket', 's', PROJECT,
                                     {'project': PROJECT},
                                     decision.new_challenge())
    finally:
        conftest.stop_broker(state)
        nitride.stop()


def _reply_listener_switches() -> int:
    """Context switches so far of this process's RPC reply listener(s)."""
    total = 0
    for thread in threading.enumerate():
        target = getattr(thread, '_target', None)
        if isinstance(getattr(target, '__self__', None),
                      amqpdriver.ReplyWaiter):
            with open('/proc/self/task/%d/status' % thread.native_id) as f:
                total += sum(int(line.split()[1]) for line in f
                             if line.startswith('voluntary_ctxt'))
    return total


def _call(deployment) -> None:
    admin = context_mod.RequestContext(user_id='root', project_id='admin',
                                       roles=['admin'])
    assert deployment.api.get_reference(admin, str(uuid.uuid4())) is None


def _idle_switches_after_a_call(deployment) -> int:
    _call(deployment)
    before = _reply_listener_switches()
    time.sleep(0.6)
    return _reply_listener_switches() - before


def test_quiet_reply_listener_sleeps_between_replies(deployment,
                                                     monkeypatch):
    monkeypatch.setattr(amqpdriver, 'ACK_REQUEUE_EVERY_SECONDS_MIN', 0.001)
    # oslo.messaging's own pace: wakes after 1, 2, 4... ms, ~9 times.
    assert _idle_switches_after_a_call(deployment) >= 5
    rpc.quiet_idle_polling()
    assert _idle_switches_after_a_call(deployment) <= 2
    # Replies still wake it at once: calls go on being answered.
    for _ in range(20):
        _call(deployment)


def _thread_switches(pids) -> dict:
    """Voluntary context switches so far of each thread of ``pids``."""
    found = {}
    for pid in pids:
        for task in os.listdir('/proc/%d/task' % pid):
            try:
                with open('/proc/%d/task/%s/status' % (pid, task)) as f:
                    found[pid, task] = sum(
                        int(line.split()[1]) for line in f
                        if line.startswith('voluntary_ctxt'))
            except FileNotFoundError:
                pass  # the thread ended meanwhile
    return found


def test_workers_sleep_between_calls(deployment):
    # oslo.messaging's own pace would wake the RPC server's listener after
    # 1, 2, 4... ms, about 9 times in 0.6 s, in whichever worker served.
    # (futurist's idle pool threads each wake about once a second.)
    workers = [p.pid for p in deployment.processes[:deployment.workers]]
    for _ in range(3):
        for _ in range(2 * len(workers)):
            _call(deployment)
        before = _thread_switches(workers)
        time.sleep(0.6)
        after = _thread_switches(workers)
        busiest = max(count - before.get(thread, 0)
                      for thread, count in after.items())
        if busiest <= 2:
            break
    assert busiest <= 2
