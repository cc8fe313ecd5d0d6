"""The Vault end to end: real Barbican, RabbitMQ, Nitride and a TEE.

A tenant stores a disk key bound to an instance; nobody reads it plainly;
the simulated TEE attests through Nitride's guest API and gets it sealed
to its ephemeral key; every refusal releases nothing; the key never shows
in Barbican's database, logs or the RabbitMQ frames; KEK rotation keeps
old secrets releasable.
"""

import base64
import concurrent.futures
import os
import subprocess
import typing
import uuid

from cryptography.hazmat.primitives.asymmetric import ed25519
from oslo_context import context as context_mod
import oslo_messaging as messaging
import pytest

from buckypaper_os.barbican_plugin import sealing
from buckypaper_os.demo import barbican as barbican_mod
from buckypaper_os.nitride_service.api import guest_client
from buckypaper_os.nitride_service import decision
from buckypaper_os.nitride_service import engine as engine_mod
from buckypaper_os.nitride_service import rpc
from buckypaper_os.nitride_service import rpcapi
from buckypaper_os.nitride_service import token as token_mod
from tests.functional import conftest
from tests.functional import leaks
from tests.integration import conftest as harness
from tests.unit.nitride import guests

PROJECT = 'tenant-a'
OTHER_PROJECT = 'tenant-b'
SERVICE = context_mod.RequestContext(user_id='nova', project_id='service',
                                     roles=['service'])
TENANT = barbican_mod.identity(PROJECT, 'alice')
ADMIN = barbican_mod.identity(PROJECT, 'root', 'admin,member,reader')
NITRIDE = barbican_mod.identity(conftest.SERVICE_PROJECT,
                                conftest.NITRIDE_USER, 'reader')
#: Every disk key the module stores, to search for afterwards.
KEYS = []


class SealedGuest(guests.Guest):
    """A simulated cVM whose attested key is a real HPKE key pair."""

    def __init__(self, *args, suite=sealing.MLKEM768_X25519, **kwargs):
        super().__init__(*args, **kwargs)
        self.pair = sealing.TeeKeyPair(suite)
        self.public_key = self.pair.public_bytes()


def new_key() -> bytes:
    key = os.urandom(64)
    KEYS.append(key)
    return key


def registered(vault, pki, project=PROJECT, **kwargs) -> SealedGuest:
    instance = str(uuid.uuid4())
    vault.nitride.api.register_instance(SERVICE, instance, project,
                                        'sev-snp',
                                        [guests.MEASUREMENT.hex()])
    return SealedGuest(pki, instance, project, **kwargs)


def client(vault, url=None) -> guest_client.GuestClient:
    return guest_client.GuestClient(url or vault.nitride.api_url, timeout=60)


def attest(vault, guest, url=None) -> str:
    """The guest's ticket, through the guest API (at ``url``)."""
    api = client(vault, url)
    challenge = api.challenge(guest.instance_uuid)
    report, certs = guest.evidence(base64.b64decode(challenge['nonce']))
    answer = api.attest(guest.instance_uuid, challenge['nonce'], report,
                        certs, guest.public_key)
    assert answer['status'] == 'affirming'
    return answer['token']


def store_bound(vault, guest, key, headers=TENANT) -> str:
    return vault.barbican.store(
        headers, key, {'buckypaper-instance': guest.instance_uuid,
                       'buckypaper-tee': 'sev-snp'},
        acl_users=[conftest.NITRIDE_USER])


def refused(call, status=403):
    with pytest.raises((barbican_mod.HTTPError,
                        guest_client.GuestApiError)) as exc:
        call()
    assert getattr(exc.value, 'status', None) == status, exc.value
    return exc.value


@pytest.fixture(scope='module')
def bound(vault, pki):
    """A registered, attested guest and its disk key in the Vault."""
    guest = registered(vault, pki)
    key = new_key()
    secret = store_bound(vault, guest, key)
    return guest, key, secret, attest(vault, guest)


def test_release_sealed_to_the_attested_tee(vault, bound):
    guest, key, secret, ticket = bound
    sealed = client(vault).release(secret, ticket)
    assert key not in sealed
    assert guest.pair.open(sealed, guest.instance_uuid, secret) == key
    with pytest.raises(sealing.SealingError):
        sealing.TeeKeyPair().open(sealed, guest.instance_uuid, secret)
    # Barbican logged the relayed URL, without the ticket.
    log = vault.barbican.logs()
    assert '/v1/secrets/%s/payload?trans_wrapped_session_key=***' % (
        secret) in log
    assert ticket not in log


def test_release_through_the_api_under_uwsgi(vault, pki):
    """The production entry point: two uWSGI processes of four threads.

    Each process reads its configuration from the environment and opens
    its own database, RPC transport and Barbican session after the fork.
    """
    members = [registered(vault, pki) for _ in range(8)]
    keys = [new_key() for _ in members]
    secrets = [store_bound(vault, g, k) for g, k in zip(members, keys)]

    def boot(index: int) -> bytes:
        guest = members[index]
        sealed = client(vault, url).release(
            secrets[index], attest(vault, guest, url))
        return guest.pair.open(sealed, guest.instance_uuid, secrets[index])

    with harness.extra_api(vault.nitride, 'uwsgi') as url:
        with concurrent.futures.ThreadPoolExecutor(len(members)) as pool:
            assert list(pool.map(boot, range(len(members)))) == keys
        refused(lambda: client(vault, url).release(
            secrets[0], attest(vault, members[1], url)))


def test_release_from_barbican_under_uwsgi(vault, pki):
    """Barbican as deployed: uWSGI, two processes of four threads.

    Tickets need room in uWSGI's request buffer, and Nitride's relay, which
    pools connections, must learn that uWSGI closes each one.
    """
    members = [registered(vault, pki) for _ in range(8)]
    keys = [new_key() for _ in members]
    secrets = [store_bound(vault, g, k) for g, k in zip(members, keys)]

    def boot(index: int) -> typing.List[bytes]:
        guest = members[index]
        ticket = attest(vault, guest)
        return [guest.pair.open(client(vault).release(secrets[index], ticket),
                                guest.instance_uuid, secrets[index])
                for _ in range(4)]

    vault.barbican.stop()
    vault.barbican.server = 'uwsgi'
    vault.barbican.start()
    try:
        with concurrent.futures.ThreadPoolExecutor(len(members)) as pool:
            assert list(pool.map(boot, range(len(members)))) == [
                [key] * 4 for key in keys]
        refused(lambda: vault.barbican.payload(secrets[0], TENANT))
    finally:
        vault.barbican.stop()
        vault.barbican.server = 'wsgiref'
        vault.barbican.start()


def test_p384_fallback_suite(vault, pki):
    guest = registered(vault, pki, suite=sealing.P384)
    key = new_key()
    secret = store_bound(vault, guest, key)
    sealed = client(vault).release(secret, attest(vault, guest))
    assert guest.pair.open(sealed, guest.instance_uuid, secret) == key


@pytest.mark.parametrize('headers', [TENANT, ADMIN, NITRIDE],
                         ids=['owner', 'admin', 'nitride'])
def test_no_plain_read_for_anyone(vault, bound, headers):
    secret = bound[2]
    error = refused(lambda: vault.barbican.payload(secret, headers))
    assert bound[1] not in error.body


def test_no_ticket_through_the_relay(vault, bound):
    refused(lambda: client(vault).release(bound[2], ''), 400)


def test_forged_ticket(vault, bound):
    guest, _, secret, ticket = bound
    header, payload, signature = ticket.split('.')[:3]
    forged = '.'.join([header, payload, signature[::-1]])
    refused(lambda: client(vault).release(secret, forged))
    # Past the relay's check, straight at Barbican: the Vault refuses.
    refused(lambda: vault.barbican.payload(secret, NITRIDE, forged,
                                           vault.transport_key_id))


def test_expired_ticket(vault, bound, monkeypatch):
    guest, _, secret, _ = bound
    with vault.nitride.guest_engine() as engine:
        nonce = base64.b64decode(engine.challenge(guest.instance_uuid)[
            'nonce'])
        report, certs = guest.evidence(nonce)
        real_time = token_mod.time.time
        monkeypatch.setattr(token_mod.time, 'time',
                            lambda: real_time() - 3600)
        ticket = engine.attest(guest.instance_uuid, nonce, report, certs,
                               guest.public_key)['token']
        monkeypatch.undo()
    refused(lambda: client(vault).release(secret, ticket))
    error = refused(lambda: vault.barbican.payload(
        secret, NITRIDE, ticket, vault.transport_key_id))
    assert b'expired' in error.body


def test_ticket_of_another_instance(vault, pki, bound):
    other = registered(vault, pki)
    error = refused(lambda: client(vault).release(bound[2],
                                                  attest(vault, other)))
    assert 'another instance' in str(error)


def test_secret_of_another_project(vault, pki, bound):
    guest, _, _, ticket = bound
    # tenant-b binds its key to tenant-a's instance: Nitride still refuses.
    foreign = store_bound(vault, guest, new_key(),
                          barbican_mod.identity(OTHER_PROJECT, 'bob'))
    error = refused(lambda: client(vault).release(foreign, ticket))
    assert 'another project' in str(error)


def test_contraindicated_attestation(vault, pki):
    guest = registered(vault, pki, policy=0x30000 | (1 << 19))  # debug
    secret = store_bound(vault, guest, new_key())
    api = client(vault)
    challenge = api.challenge(guest.instance_uuid)
    report, certs = guest.evidence(base64.b64decode(challenge['nonce']))
    refused(lambda: api.attest(guest.instance_uuid, challenge['nonce'],
                               report, certs, guest.public_key))
    # Even a Nitride-signed token of that verdict releases nothing.
    with vault.nitride.guest_engine() as engine:
        result, _ = engine.verifier.verify(report, tee='sev-snp',
                                           certs=certs, collateral=None,
                                           at=None, policy=None)
        assert result.status == engine_mod.CONTRAINDICATED
        ticket = token_mod.issue(engine.signer, result, guest.instance_uuid,
                                 PROJECT, guest.public_key, 300).token
    error = refused(lambda: api.release(secret, ticket))
    assert 'contraindicated' in str(error) or 'no attestation' in str(error)


def test_unbound_secret_is_ordinary(vault):
    data = new_key()
    secret = vault.barbican.store(TENANT, data)
    assert vault.barbican.payload(secret, TENANT) == data


def test_bound_text_secret_refused(vault, pki):
    """Releases are sealed bytes: Barbican keeps no bound text secret."""
    guest = registered(vault, pki)
    refused(lambda: vault.barbican.store(
        TENANT, b'passphrase', {'buckypaper-instance': guest.instance_uuid},
        content_type='text/plain'), 400)


def test_kek_rotation(vault, pki, bound):
    guest, key, secret, _ = bound
    barbican = vault.barbican
    new_kek = os.path.join(vault.root, 'kek-2')
    subprocess.run(['buckypaper-vault-rotate-kek', '--generate', new_kek],
                   check=True, timeout=60)
    barbican.stop()
    barbican.write_config(vault.kek_files + [new_kek])
    barbican.start()
    # Written before: still released; new projects use the new KEK.
    fresh = barbican.store(barbican_mod.identity('tenant-c', 'carol'),
                           b'after rotation')
    assert barbican.payload(fresh, barbican_mod.identity(
        'tenant-c', 'carol')) == b'after rotation'
    assert guest.pair.open(client(vault).release(secret, attest(
        vault, guest)), guest.instance_uuid, secret) == key
    out = subprocess.run(['buckypaper-vault-rotate-kek', '--config-file',
                          barbican.config], check=True, timeout=60,
                         capture_output=True, text=True).stdout
    assert 're-wrapped 2 of 3 project keys' in out, out
    # The old KEK can leave the configuration.
    barbican.stop()
    barbican.write_config([new_kek])
    barbican.start()
    assert guest.pair.open(client(vault).release(secret, attest(
        vault, guest)), guest.instance_uuid, secret) == key


def test_one_backend_of_multiple_stores(vault, pki):
    """The Vault as a project's preferred store beside the software one."""
    root = os.path.join(vault.root, 'barbican-multi')
    os.makedirs(root)
    barbican = barbican_mod.Barbican(
        root, conftest.through(vault.nitride.url, vault.tap.port),
        vault.nitride.topic, vault.kek_files, multiple_stores=True,
        decision_key_files=vault.barbican.decision_key_files)
    barbican.start()
    try:
        stores = barbican.json('GET', '/v1/secret-stores', ADMIN)[
            'secret_stores']
        (ours,) = [s for s in stores
                   if s['secret_store_plugin'] == 'buckypaper_vault']
        assert not ours['global_default']
        barbican.request('POST', '/v1/secret-stores/%s/preferred'
                         % ours['secret_store_ref'].rsplit('/', 1)[-1],
                         ADMIN)
        guest = registered(vault, pki)
        key = new_key()
        secret = barbican.store(TENANT, key, {
            'buckypaper-instance': guest.instance_uuid},
            acl_users=[conftest.NITRIDE_USER])
        refused(lambda: barbican.payload(secret, TENANT))
        transport_key = barbican.create_transport_key()
        sealed = barbican.payload(secret, NITRIDE, attest(vault, guest),
                                  transport_key)
        assert guest.pair.open(sealed, guest.instance_uuid, secret) == key
        # Another project still uses the software store, as before.
        other = barbican_mod.identity(OTHER_PROJECT, 'bob')
        plain = barbican.store(other, b'software store')
        assert barbican.payload(plain, other) == b'software store'
    finally:
        barbican.stop()


def test_rabbitmq_down(vault, bound):
    guest, key, secret, _ = bound
    ticket = attest(vault, guest)
    vault.tap.stop()
    try:
        error = refused(lambda: client(vault).release(secret, ticket),
                        status=503)
        assert 'no decision' in str(error)
    finally:
        vault.tap.start()
    sealed = client(vault).release(secret, attest(vault, guest))
    assert guest.pair.open(sealed, guest.instance_uuid, secret) == key


def stop_workers(vault) -> None:
    """Stop the module's Nitride workers for good (the tests below)."""
    for worker in vault.nitride.processes[:vault.nitride.workers]:
        worker.terminate()
        worker.wait(timeout=30)


def test_nitride_down(vault, bound):
    guest, _, secret, _ = bound
    ticket = attest(vault, guest)
    stop_workers(vault)
    error = refused(lambda: client(vault).release(secret, ticket),
                    status=503)
    assert 'no decision' in str(error)


class RogueNitride:
    """Whoever holds broker credentials, answering on Nitride's topic."""

    target = messaging.Target(version='1.2')

    def __init__(self) -> None:
        self.key = ed25519.Ed25519PrivateKey.generate()
        self.attacker = sealing.TeeKeyPair()
        self.asked = []

    def authorize_release(self, context, ticket, secret_ref, project_id,
                          release_policy, challenge=None):
        self.asked.append(secret_ref)
        tee_key = base64.b64encode(self.attacker.public_bytes()).decode()
        instance = (release_policy or {}).get('instance')
        return {'allowed': True, 'reasons': [], 'instance_uuid': instance,
                'tee_public_key': tee_key,
                'signature': decision.sign(self.key, decision.statement(
                    challenge, ticket, secret_ref, project_id,
                    release_policy, instance, tee_key))}


def test_rogue_answer_on_the_bus(vault, bound):
    """Only a rogue listens on Nitride's topic."""
    guest, _, secret, _ = bound
    ticket = attest(vault, guest)
    stop_workers(vault)
    rogue = RogueNitride()
    server = messaging.get_rpc_server(
        vault.nitride.transport, messaging.Target(
            topic=vault.nitride.topic, server='rogue'), [rogue],
        executor='threading', serializer=rpc.ContextSerializer())
    server.start()
    try:
        relayed = refused(lambda: client(vault).release(secret, ticket))
        direct = refused(lambda: vault.barbican.payload(
            secret, NITRIDE, ticket, vault.transport_key_id))
    finally:
        server.stop()
        server.wait()
    assert rogue.asked == [secret, secret]
    for error in (relayed, direct):
        assert 'not signed by a pinned Nitride key' in str(error), error


class ForwardingRogue:
    """A rogue on Nitride's topic that asks real Nitride a weaker question.

    It passes the Vault's challenge and ticket on, with the secret bound
    to the whole project instead of one instance, and returns Nitride's
    genuinely signed yes.
    """

    target = messaging.Target(version='1.2')

    def __init__(self, nitride: rpcapi.NitrideAPI) -> None:
        self.nitride = nitride
        self.answers = []

    def authorize_release(self, context, ticket, secret_ref, project_id,
                          release_policy, challenge=None):
        answer = self.nitride.authorize_release(
            SERVICE, ticket, secret_ref, project_id,
            {'project': project_id}, challenge)
        self.answers.append(answer)
        return answer


def test_rogue_forwarding_a_weaker_policy_to_nitride(vault, bound):
    """Nitride's signature covers the policy it judged, not the Vault's."""
    guest, _, secret, _ = bound
    ticket = attest(vault, guest)
    stop_workers(vault)
    hidden = vault.nitride.topic + '-hidden'
    worker = vault.nitride.start_worker(
        vault.nitride.workers, env={'OS_NITRIDE__TOPIC': hidden})
    server = None
    try:
        real = rpcapi.NitrideAPI(vault.nitride.conf, vault.nitride.transport,
                                 timeout=3, topic=hidden)
        for attempt in range(30):  # until the worker's queue exists
            try:
                real.get_policy(harness.ADMIN, 'project', 'ready-check')
                break
            except messaging.MessagingTimeout:
                assert worker.poll() is None, vault.nitride.logs()
        rogue = ForwardingRogue(real)
        server = messaging.get_rpc_server(
            vault.nitride.transport, messaging.Target(
                topic=vault.nitride.topic, server='rogue'), [rogue],
            executor='threading', serializer=rpc.ContextSerializer())
        server.start()
        error = refused(lambda: vault.barbican.payload(
            secret, NITRIDE, ticket, vault.transport_key_id))
    finally:
        if server is not None:
            server.stop()
            server.wait()
        worker.terminate()
        worker.wait(timeout=30)
    (answer,) = rogue.answers
    assert answer['allowed'] and answer['signature']  # Nitride said yes
    assert 'not signed by a pinned Nitride key' in str(error)


def test_key_never_in_the_clear(vault):
    """After everything above: DB files, logs and AMQP frames."""
    assert KEYS
    haystacks = leaks.haystacks(vault.root, bytes(vault.tap.captured))
    names = [os.path.basename(name) for name in haystacks]
    assert any(name.endswith('.log') for name in names)
    assert 'barbican.sqlite' in names and 'vault.sqlite' in names
    assert len(haystacks['rabbitmq frames']) > 1000
    assert leaks.find(KEYS, haystacks) == []
