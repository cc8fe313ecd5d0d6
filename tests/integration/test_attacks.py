"""Attacks on the release path, end to end: nothing released, all audited.

Real RabbitMQ, two Nitride RPC workers, the guest API process and a real
Barbican API with the Vault (the functional fixtures), simulated SEV-SNP
guests. Each attack asserts that no key (or no token) came out and that
Nitride's audit log holds the refusal with its reason. The processes run
with ``[nitride] token_leeway = 0`` (oslo.config's ``OS_NITRIDE__...``
environment) so that a short token lifetime expires within the test.
"""

import base64
import concurrent.futures
import contextlib
import http.client
import json
import os
import re
import socket
import threading
import time
import urllib.parse
import uuid

from oslo_context import context as context_mod
import pytest

from buckypaper_os.demo import barbican as barbican_mod
from buckypaper_os.nitride_service.api import guest_client
from buckypaper_os.nitride_service.api import problems
from tests.functional import conftest as functional
from tests.functional.test_vault_release import SealedGuest
from tests.integration import conftest as harness
from tests.integration.conftest import broker  # noqa: F401
from tests import sockets
from tests.unit.nitride import guests

PROJECT = 'tenant-attacked'
OTHER_PROJECT = 'tenant-attacker'
SERVICE = context_mod.RequestContext(user_id='nova', project_id='service',
                                     roles=['service'])
ADMIN = context_mod.RequestContext(user_id='admin', project_id='admin',
                                   roles=['admin', 'service'])
TENANT = barbican_mod.identity(PROJECT, 'alice')
NITRIDE = barbican_mod.identity(functional.SERVICE_PROJECT,
                                functional.NITRIDE_USER, 'reader')
TIMEOUT = 60
DEBUG_POLICY = 0x30000 | 1 << 19
#: What the development server (http.server) reads of a request line or
#: header line, and the most header lines it reads.
HEADER_LINE_LIMIT = 65536
HEADERS_LIMIT = 100
#: [nitride_api] max_connections (its default).
MAX_CONNECTIONS = 256
#: Every key stored by this module; none may ever come out.
KEYS = []


@pytest.fixture(scope='module')
def vault(broker, tmp_path_factory, pki_dir):  # noqa: F811
    root = str(tmp_path_factory.mktemp('attacks'))
    os.makedirs(os.path.join(root, 'nitride'))
    os.makedirs(os.path.join(root, 'barbican'))
    with _environment(OS_NITRIDE__TOKEN_LEEWAY='0'):
        deployment = functional.Vault(root, broker, pki_dir)
    yield deployment
    deployment.stop()


@contextlib.contextmanager
def _environment(**values):
    saved = {name: os.environ.get(name) for name in values}
    os.environ.update(values)
    try:
        yield
    finally:
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


# The guest's side

def registered(vault, pki, project=PROJECT, appraisal=None,
               **kwargs) -> SealedGuest:
    """A guest registered with the reference measurement (and policy)."""
    instance = str(uuid.uuid4())
    vault.nitride.api.register_instance(
        SERVICE, instance, project, 'sev-snp', [guests.MEASUREMENT.hex()],
        policy=appraisal)
    return SealedGuest(pki, instance, project, **kwargs)


def client(vault, url=None) -> guest_client.GuestClient:
    return guest_client.GuestClient(url or vault.nitride.api_url,
                                    timeout=TIMEOUT)


def attest_body(guest, nonce: str, **evidence_kwargs) -> dict:
    report, certs = guest.evidence(base64.b64decode(nonce),
                                   **evidence_kwargs)
    return {'instance': guest.instance_uuid, 'nonce': nonce,
            'evidence': _b64(report),
            'certificates': [_b64(c) for c in certs],
            'tee_public_key': _b64(guest.public_key)}


def attest(vault, guest) -> str:
    api = client(vault)
    body = attest_body(guest, api.challenge(guest.instance_uuid)['nonce'])
    return api._post('/v1/attest', body)['token']


def store(vault, guest, headers=TENANT, **extra) -> str:
    key = os.urandom(64)
    KEYS.append(key)
    metadata = {'buckypaper-instance': guest.instance_uuid,
                'buckypaper-tee': 'sev-snp'}
    metadata.update(extra)
    return vault.barbican.store(headers, key, metadata,
                                acl_users=[functional.NITRIDE_USER])


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


# What must hold after every attack

def refused(call, status=403) -> Exception:
    with pytest.raises((barbican_mod.HTTPError,
                        guest_client.GuestApiError)) as exc:
        call()
    assert getattr(exc.value, 'status', None) == status, exc.value
    for key in KEYS:
        assert key not in str(exc.value).encode()
    return exc.value


def release_refused(vault, secret, ticket) -> None:
    """Neither the relay nor Barbican itself gives the secret out."""
    refused(lambda: client(vault).release(secret, ticket))
    refused(lambda: vault.barbican.payload(secret, NITRIDE, ticket,
                                           vault.transport_key_id))


def audited(vault, event, reason, instance=None, project=None,
            count=1) -> list:
    """The refusals of ``event`` citing ``reason`` in Nitride's audit log."""
    records = vault.nitride.api.export(ADMIN, instance_uuid=instance,
                                       project_id=project)['audit']
    found = [r for r in records if r['event'] == event
             and r['decision'] == 'refused'
             and any(reason in text for text in r['reasons'])]
    assert len(found) >= count, (event, reason, records)
    return found


def tokens_issued(vault, guest) -> int:
    return sum(bool(r['token']) for r in vault.nitride.api.export(
        ADMIN, instance_uuid=guest.instance_uuid)['attestations'])


# Attacks on attestation

def test_replayed_evidence(vault, pki):
    guest = registered(vault, pki)
    api = client(vault)
    body = attest_body(guest, api.challenge(guest.instance_uuid)['nonce'])
    assert api._post('/v1/attest', body)['status'] == 'affirming'
    error = refused(lambda: api._post('/v1/attest', body))
    assert 'token' not in error.problem
    # The same report with a fresh nonce: its REPORT_DATA binds the old one.
    body['nonce'] = api.challenge(guest.instance_uuid)['nonce']
    error = refused(lambda: api._post('/v1/attest', body))
    assert any('report_data' in r for r in error.reasons), error.reasons
    assert tokens_issued(vault, guest) == 1
    audited(vault, 'attest', 'nonce already used', guest.instance_uuid)
    audited(vault, 'attest', 'report_data', guest.instance_uuid)


@pytest.mark.parametrize('server', harness.API_SERVERS)
def test_nonce_raced_across_two_api_processes(vault, pki, server):
    guest = registered(vault, pki)
    rounds = 4
    with harness.extra_api(vault.nitride, server) as other_url:
        apis = [client(vault), client(vault, other_url)]
        for _ in range(rounds):
            body = attest_body(guest, apis[0].challenge(
                guest.instance_uuid)['nonce'])
            barrier = threading.Barrier(2)

            def send(api):
                barrier.wait(TIMEOUT)
                try:
                    return api._post('/v1/attest', body)['status']
                except guest_client.GuestApiError as exc:
                    return exc.status, exc.reasons

            with concurrent.futures.ThreadPoolExecutor(2) as pool:
                outcomes = list(pool.map(send, apis))
            assert sorted(outcomes, key=str) == sorted(
                ['affirming', (403, ['nonce already used'])], key=str)
    assert tokens_issued(vault, guest) == rounds
    audited(vault, 'attest', 'nonce already used', guest.instance_uuid,
            count=rounds)


def test_evidence_of_another_instance(vault, pki):
    victim = registered(vault, pki)
    attacker = registered(vault, pki)
    api = client(vault)
    # The attacker's genuine report (its own HOST_DATA) as the victim.
    body = attest_body(attacker, api.challenge(victim.instance_uuid)[
        'nonce'])
    body['instance'] = victim.instance_uuid
    error = refused(lambda: api._post('/v1/attest', body))
    assert any('host_data' in r for r in error.reasons), error.reasons
    assert tokens_issued(vault, victim) == 0
    audited(vault, 'attest', 'host_data', victim.instance_uuid)
    # The attacker's own ticket for the victim's key.
    secret = store(vault, victim)
    release_refused(vault, secret, attest(vault, attacker))
    audited(vault, 'release', 'secret is bound to another instance',
            attacker.instance_uuid, count=2)


def test_debug_guest(vault, pki):
    guest = registered(vault, pki, policy=DEBUG_POLICY)
    api = client(vault)
    body = attest_body(guest, api.challenge(guest.instance_uuid)['nonce'])
    refused(lambda: api._post('/v1/attest', body))
    assert tokens_issued(vault, guest) == 0
    audited(vault, 'attest', 'guest has debugging enabled',
            guest.instance_uuid)


def test_tcb_rollback(vault, pki):
    rolled_back = dict(pki.tcb, snp=pki.tcb['snp'] - 1)
    guest = registered(vault, pki, appraisal={'min_tcb': dict(pki.tcb)},
                       tcb=rolled_back)
    api = client(vault)
    body = attest_body(guest, api.challenge(guest.instance_uuid)['nonce'])
    refused(lambda: api._post('/v1/attest', body))
    assert tokens_issued(vault, guest) == 0
    audited(vault, 'attest', 'TCB component snp', guest.instance_uuid)
    # A current platform, but the secret asks for more than it reports.
    current = registered(vault, pki)
    secret = store(vault, current, **{'buckypaper-min-tcb': json.dumps(
        {'snp': pki.tcb['snp'] + 1})})
    release_refused(vault, secret, attest(vault, current))
    audited(vault, 'release', "below the secret's minimum",
            current.instance_uuid, count=2)


def test_measurement_of_another_image(vault, pki):
    guest = registered(vault, pki, measurement=bytes.fromhex('11' * 48))
    api = client(vault)
    body = attest_body(guest, api.challenge(guest.instance_uuid)['nonce'])
    error = refused(lambda: api._post('/v1/attest', body))
    assert any('measurement' in r for r in error.reasons), error.reasons
    assert tokens_issued(vault, guest) == 0
    audited(vault, 'attest', 'is not an allowed value', guest.instance_uuid)


# Attacks on release

def test_secret_of_another_project(vault, pki):
    guest = registered(vault, pki)
    ticket = attest(vault, guest)
    # The attacker's project binds its own secret to our instance ...
    foreign = store(vault, guest, barbican_mod.identity(OTHER_PROJECT,
                                                        'mallory'))
    release_refused(vault, foreign, ticket)
    audited(vault, 'release', 'secret belongs to another project',
            project=OTHER_PROJECT, count=2)
    # ... and a guest of the attacker's project asks for our key.
    secret = store(vault, guest)
    attacker = registered(vault, pki, project=OTHER_PROJECT)
    release_refused(vault, secret, attest(vault, attacker))
    audited(vault, 'release', 'secret belongs to another project',
            attacker.instance_uuid, count=2)


def test_token_reuse_after_expiry(vault, pki):
    guest = registered(vault, pki, appraisal={'token_lifetime': 5})
    secret = store(vault, guest)
    ticket = attest(vault, guest)
    claims = json.loads(base64.urlsafe_b64decode(
        ticket.split('.')[1] + '=='))
    assert claims['exp'] - claims['iat'] == 5
    sealed = client(vault).release(secret, ticket)
    assert guest.pair.open(sealed, guest.instance_uuid, secret) == KEYS[-1]
    time.sleep(max(0.0, claims['exp'] + 1.1 - time.time()))
    release_refused(vault, secret, ticket)
    # The relay's refusal and the Vault's (through Nitride's workers).
    audited(vault, 'release', 'token expired', count=2)


def _flood(vault, path: str, body: str, count: int, burst: int):
    """The admitted and the refused of ``count`` requests, 8 at a time.

    The limit: ``burst`` at once, then one per 2 s (the defaults).
    """
    start = time.monotonic()
    with concurrent.futures.ThreadPoolExecutor(8) as pool:
        answers = list(pool.map(lambda _: _request(
            vault, 'POST', path, body), range(count)))
    elapsed = time.monotonic() - start
    admitted = [a for a in answers if a[0] == 200]
    limited = [a for a in answers if a[0] != 200]
    assert burst <= len(admitted) <= burst + elapsed // 2 + 1, (
        len(admitted), elapsed, sorted(a[0] for a in answers))
    for answer in limited:
        document = _problem(answer, 429)
        assert document['type'].endswith('too-many-requests')
        assert 1 <= int(answer[1]['retry-after']) <= 2
    return admitted, limited


def test_challenge_flood(vault, pki):
    """The defaults: bursts of 5, then 30 a minute (one per 2 s)."""
    guest = registered(vault, pki)
    _, limited = _flood(vault, '/v1/challenge', json.dumps(
        {'instance': guest.instance_uuid}), 60, 5)
    audited(vault, 'challenge', 'too many challenges', guest.instance_uuid,
            count=len(limited))


def test_release_flood(vault, pki):
    """One ticket, many releases: the rest never reach Barbican.

    The defaults: bursts of 10, then 30 a minute (one per 2 s).
    """
    guest = registered(vault, pki)
    secret = store(vault, guest)
    ticket = attest(vault, guest)
    admitted, limited = _flood(vault, '/v1/release', json.dumps(
        {'secret': secret, 'ticket': ticket}), 40, 10)
    for answer in admitted:  # the guest's own key, sealed to its TEE
        sealed = base64.b64decode(answer[2]['sealed'])
        assert guest.pair.open(sealed, guest.instance_uuid,
                               secret) == KEYS[-1]
    audited(vault, 'release', 'too many releases', guest.instance_uuid,
            count=len(limited))
    decided = [r for r in vault.nitride.api.export(
        ADMIN, instance_uuid=guest.instance_uuid)['audit']
        if r['event'] == 'release' and r['decision'] == 'allowed']
    assert len(decided) == len(admitted)


# Malformed and oversized requests

def _address(vault):
    parts = urllib.parse.urlsplit(vault.nitride.api_url)
    return parts.hostname, parts.port


def _request(vault, method, path, body=None, headers=None,
             content_type='application/json'):
    """One request; its status, headers and parsed problem (or JSON)."""
    connection = http.client.HTTPConnection(*_address(vault),
                                            timeout=TIMEOUT)
    try:
        all_headers = {'Content-Type': content_type} if content_type else {}
        all_headers.update(headers or {})
        connection.request(method, path, body=body, headers=all_headers)
        answer = connection.getresponse()
        data = answer.read()
        return (answer.status, {k.lower(): v for k, v in answer.getheaders()},
                json.loads(data) if data else None)
    finally:
        connection.close()


POSTS = ('/v1/challenge', '/v1/attest', '/v1/release')
GETS = ('/', '/v1/jwks')
MALFORMED = [
    ('wrong content type', '{}', 'text/plain', 415),
    ('no content type', '{}', None, 415),
    ('bad JSON', '{"instance": ', 'application/json', 400),
    ('not UTF-8', b'\xff\xfe{}', 'application/json', 400),
    ('not an object', '[1, 2]', 'application/json', 400),
    ('deep nesting', '[' * 100000, 'application/json', 400),
    ('wrong types', json.dumps({'instance': 7, 'nonce': [], 'ticket': {},
                                'secret': 1.5, 'evidence': None}),
     'application/json', 400),
    ('huge number', '{"instance": %s}' % ('9' * 5000), 'application/json',
     400),
]


@pytest.mark.parametrize('path', POSTS)
@pytest.mark.parametrize('what, body, content_type, status', MALFORMED,
                         ids=[m[0] for m in MALFORMED])
def test_malformed_requests(vault, path, what, body, content_type, status):
    answer = _request(vault, 'POST', path, body, content_type=content_type)
    _problem(answer, status)


def test_wrong_methods_and_paths(vault):
    for path in POSTS:
        _problem(_request(vault, 'GET', path), 405)
    for path in GETS:
        _problem(_request(vault, 'POST', path, '{}'), 405)
    _problem(_request(vault, 'GET', '/v1/' + 'a' * 10000), 404)
    _problem(_request(vault, 'DELETE', '/v1/attest'), 405)
    _problem(_request(vault, 'GET', '/v1/%80%ff'), 404)  # not UTF-8


def _problem(answer, status) -> dict:
    code, headers, document = answer
    assert code == status, answer
    assert headers['content-type'] == problems.MEDIA_TYPE, answer
    assert document['status'] == status and document['detail'], document
    return document


def _raw(vault, head: bytes, body_bytes: int = 0) -> bytes:
    """Send ``head`` and up to ``body_bytes`` zeros; what came back."""
    with socket.create_connection(_address(vault), timeout=TIMEOUT) as s:
        try:
            s.sendall(head)
            chunk = bytes(64 * 1024)
            for _ in range(body_bytes // len(chunk)):
                s.sendall(chunk)
            s.shutdown(socket.SHUT_WR)
            return sockets.read_until_closed(s)
        except (ConnectionResetError, BrokenPipeError):
            return b''  # the server closed on an unread body: refused


def _head(path, length, extra=b'') -> bytes:
    return (b'POST %s HTTP/1.1\r\nHost: 127.0.0.1\r\n'
            b'Content-Type: application/json\r\nContent-Length: %d\r\n'
            b'%s\r\n' % (path.encode(), length, extra))


@pytest.mark.parametrize('path', POSTS)
def test_body_over_the_limit_is_refused_unread(vault, path):
    for length in (256 * 1024 + 1, 10 ** 12):
        answer = _raw(vault, _head(path, length))
        assert answer.startswith(b'HTTP/1.0 413 ') or answer.startswith(
            b'HTTP/1.1 413 '), answer[:200]
        assert problems.MEDIA_TYPE.encode() in answer


@pytest.mark.parametrize('path', POSTS + GETS)
def test_huge_headers(vault, path):
    method = b'POST' if path in POSTS else b'GET'
    line = method + b' ' + path.encode() + b' HTTP/1.1\r\n'
    # Each just past the server's limit, so that it reads all of it and
    # answers (more would be cut off by a reset).
    one_huge = line + b'X-Big: ' + b'a' * (HEADER_LINE_LIMIT + 1 - 7)
    many = line + b''.join(b'X-%d: a\r\n' % i
                           for i in range(HEADERS_LIMIT + 1))
    long_line = method + b' ' + path.encode() + b'?' + b'a' * (
        HEADER_LINE_LIMIT + 1 - len(method) - len(path) - 2)
    for head, status in ((one_huge, 431), (many, 431), (long_line, 414)):
        answer = _raw(vault, head)
        assert answer.split(b' ', 2)[1] == b'%d' % status, answer[:300]
        assert problems.MEDIA_TYPE.encode() in answer, answer[:300]
    assert _request(vault, 'GET', '/v1/jwks')[0] == 200


def _rss(pid: int) -> int:
    with open('/proc/%d/status' % pid) as f:
        return int(re.search(r'VmRSS:\s+(\d+) kB', f.read()).group(1))


def test_oversized_burst_keeps_memory_bounded(vault):
    """64 clients at once, each pushing 4 MiB at a 256 KiB limit."""
    api_process = vault.nitride.processes[vault.nitride.workers]
    # Warm up: the first requests allocate the server's own structures.
    for path in POSTS:
        _raw(vault, _head(path, 10 ** 9), 4 * 1024 * 1024)
    before = _rss(api_process.pid)
    heads = [_head(POSTS[i % 3], 10 ** 9) for i in range(64)]
    with concurrent.futures.ThreadPoolExecutor(16) as pool:
        answers = list(pool.map(
            lambda head: _raw(vault, head, 4 * 1024 * 1024), heads))
    after = _rss(api_process.pid)
    assert all(not a or b' 413 ' in a.split(b'\r\n', 1)[0]
               for a in answers)
    print('guest API RSS before %d KiB, after 64 x 4 MiB oversized '
          'bodies %d KiB' % (before, after))
    assert after - before < 16 * 1024, (before, after)
    assert api_process.poll() is None
    # Still serving.
    assert _request(vault, 'GET', '/v1/jwks')[0] == 200


def test_connection_flood_is_bounded(vault):
    """Idle connections beyond [nitride_api] max_connections get 503."""
    api_process = vault.nitride.processes[vault.nitride.workers]
    before = _rss(api_process.pid)
    flood = []
    try:
        for _ in range(MAX_CONNECTIONS + 40):
            flood.append(socket.create_connection(_address(vault),
                                                  timeout=TIMEOUT))
        busy = 0
        for client in flood[-20:]:
            answer = client.recv(4096)
            busy += answer.startswith(b'HTTP/1.1 503 ')
        assert busy == 20
        during = _rss(api_process.pid)
    finally:
        for client in flood:
            client.close()
    print('guest API RSS before %d KiB, with %d idle connections %d KiB'
          % (before, len(flood), during))
    assert during - before < 64 * 1024, (before, during)
    deadline = time.monotonic() + TIMEOUT
    while _request(vault, 'GET', '/v1/jwks')[0] != 200:
        assert time.monotonic() < deadline
        time.sleep(0.1)


def test_no_key_came_out(vault):
    """After every attack: no stored key in the logs or the databases."""
    assert KEYS
    haystacks = {}
    for folder, _, names in os.walk(vault.root):
        for name in names:
            if name.endswith(('.sqlite', '.log')):
                with open(os.path.join(folder, name), 'rb') as f:
                    haystacks[name] = f.read()
    haystacks['rabbitmq frames'] = bytes(vault.tap.captured)
    for key in KEYS:
        for form in (key, key.hex().encode(), base64.b64encode(key)):
            for name, data in haystacks.items():
                assert form not in data, name
