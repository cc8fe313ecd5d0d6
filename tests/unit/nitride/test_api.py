"""The guest HTTP API over a real engine, in process and as a server."""

import json
import logging
import os
import re
import signal
import subprocess
import sys
import time
import urllib.request
import uuid

from oslo_db import exception as db_exc
import pytest
from sqlalchemy import exc as sa_exc
import webob

from buckypaper_os import attestation
from buckypaper_os.nitride_service.api import app as app_mod
from buckypaper_os.nitride_service.api import problems
from buckypaper_os.nitride_service.db import api as db_api
from buckypaper_os.nitride_service import engine as engine_mod
from buckypaper_os.nitride_service import token
from buckypaper_os.nitride_service import token_keys
from tests.unit.nitride.conftest import b64
from tests.unit.nitride import guests

PROJECT = 'project-a'
TIMEOUT = 30


@pytest.fixture
def app(engine, nitride_conf):
    return app_mod.make_app(engine, nitride_conf)


@pytest.fixture
def guest(engine, pki):
    instance = str(uuid.uuid4())
    engine.register(instance, PROJECT, 'sev-snp',
                    [guests.MEASUREMENT.hex()])
    return guests.Guest(pki, instance, PROJECT)


def _post(app, path, body, content_type='application/json',
          **kwargs) -> webob.Response:
    data = body if isinstance(body, bytes) else json.dumps(body).encode()
    request = webob.Request.blank(path, method='POST', body=data,
                                  content_type=content_type, **kwargs)
    return request.get_response(app)


def _get(app, path, method='GET') -> webob.Response:
    return webob.Request.blank(path, method=method).get_response(app)


def _nonce(app, guest) -> bytes:
    response = _post(app, '/v1/challenge', {'instance': guest.instance_uuid})
    assert response.status_int == 200, response.text
    return engine_mod.b64decode(response.json['nonce'], 'nonce', 64)


def _attest_body(guest, nonce, **evidence_kwargs) -> dict:
    evidence, certs = guest.evidence(nonce, **evidence_kwargs)
    return {'instance': guest.instance_uuid, 'nonce': b64(nonce),
            'evidence': b64(evidence),
            'certificates': [b64(cert) for cert in certs],
            'tee_public_key': b64(guest.public_key)}


def _problem(response, status, reason=None) -> dict:
    assert response.status_int == status, response.text
    assert response.content_type == problems.MEDIA_TYPE
    assert response.headers['Cache-Control'] == 'no-store'
    document = response.json
    assert document['type'] == (problems.TYPE_PREFIX
                                + problems.slug(status))
    assert document['status'] == status and document['title']
    if reason is not None:
        assert any(reason in r for r in document['reasons']), document
    return document


def test_challenge_attest_round_trip(app, engine, guest):
    response = _post(app, '/v1/challenge', {'instance': guest.instance_uuid})
    assert response.status_int == 200
    assert response.headers['Cache-Control'] == 'no-store'
    challenge = response.json
    assert challenge['tee'] == 'sev-snp' and challenge['expires_in'] > 0
    nonce = engine_mod.b64decode(challenge['nonce'], 'nonce', 64)
    response = _post(app, '/v1/attest', _attest_body(guest, nonce))
    assert response.status_int == 200, response.text
    assert response.headers['Cache-Control'] == 'no-store'
    answer = response.json
    assert answer['status'] == 'affirming' and answer['simulated'] is True
    assert answer['reasons'] == [] and answer['expires_in'] > 0
    claims = engine.verify_ticket(answer['token'])
    assert claims[token.INSTANCE] == guest.instance_uuid


def test_jwks_and_version(app, nitride_conf):
    response = _get(app, '/v1/jwks')
    assert response.status_int == 200
    assert response.headers['Cache-Control'] == 'no-store'
    assert response.json == token_keys.TokenKeys(nitride_conf).jwks
    assert response.json['keys']
    response = _get(app, '/')
    assert response.status_int == 200
    assert response.json['versions'][0]['id'] == 'v1'


def test_replayed_nonce_is_refused(app, guest):
    body = _attest_body(guest, _nonce(app, guest))
    assert _post(app, '/v1/attest', body).status_int == 200
    document = _problem(_post(app, '/v1/attest', body), 403,
                        'nonce already used')
    assert 'token' not in document


def test_evidence_not_binding_the_nonce_is_refused(app, guest):
    body = _attest_body(guest, _nonce(app, guest), report_data=bytes(64))
    _problem(_post(app, '/v1/attest', body), 403, 'report_data')


def test_unknown_instance(app):
    _problem(_post(app, '/v1/challenge', {'instance': str(uuid.uuid4())}),
             404, 'unknown instance')


def test_too_many_challenges(app, guest, nitride_conf):
    nitride_conf.set_override('challenges_per_minute', 1, group='nitride')
    nitride_conf.set_override('challenge_burst', 1, group='nitride')
    try:
        _nonce(app, guest)
        response = _post(app, '/v1/challenge',
                         {'instance': guest.instance_uuid})
        _problem(response, 429, 'too many')
        assert 55 <= int(response.headers['Retry-After']) <= 60
    finally:
        nitride_conf.clear_override('challenges_per_minute', group='nitride')
        nitride_conf.clear_override('challenge_burst', group='nitride')


def test_unparsable_evidence(app, guest):
    body = _attest_body(guest, _nonce(app, guest))
    body['evidence'] = b64(b'not a report')
    _problem(_post(app, '/v1/attest', body), 400)


def test_unknown_path_and_wrong_method(app):
    _problem(_get(app, '/v2/attest'), 404)
    _problem(_get(app, '/v1/challenge/'), 404)
    response = _get(app, '/v1/attest')
    _problem(response, 405)
    assert response.headers['Allow'] == 'POST'
    response = _post(app, '/v1/jwks', {})
    _problem(response, 405)
    assert response.headers['Allow'] == 'GET'


def test_content_type_must_be_json(app):
    _problem(_post(app, '/v1/challenge', b'instance=x',
                   content_type='application/x-www-form-urlencoded'), 415)
    _problem(_post(app, '/v1/challenge', b'{}', content_type=''), 415)


class _Unreadable:
    def read(self, *args):
        raise AssertionError('the body was read')


def _unread_request(content_length):
    request = webob.Request.blank('/v1/attest', {
        'CONTENT_TYPE': 'application/json', 'wsgi.input': _Unreadable()},
        method='POST')
    request.environ.pop('CONTENT_LENGTH', None)
    if content_length is not None:
        request.environ['CONTENT_LENGTH'] = content_length
    return request


def test_oversize_body_is_refused_unread(app, nitride_conf):
    limit = nitride_conf.nitride_api.max_request_bytes
    for length in (str(limit + 1), '9' * 5000):
        response = _unread_request(length).get_response(app)
        assert str(limit) in _problem(response, 413)['detail']


def test_content_length_required(app):
    _problem(_unread_request(None).get_response(app), 411)
    for length in ('-1', '\xb2', '1e3'):
        _problem(_unread_request(length).get_response(app), 400)


def test_body_shorter_than_content_length(app):
    request = webob.Request.blank('/v1/challenge', method='POST',
                                  body=b'{}', content_type='application/json')
    request.environ['CONTENT_LENGTH'] = '20'
    _problem(request.get_response(app), 400, None)


def _valid_body() -> dict:
    return {'instance': str(uuid.uuid4()), 'nonce': b64(bytes(32)),
            'evidence': b64(b'report'), 'certificates': [b64(b'cert')],
            'tee_public_key': b64(b'key')}


@pytest.mark.parametrize('change, field', [
    ({'instance': None}, 'instance'),
    ({'instance': 7}, 'instance'),
    ({'instance': 'not-a-uuid'}, 'instance'),
    ({'nonce': None}, 'nonce'),
    ({'nonce': 'not base64!'}, 'nonce'),
    ({'nonce': b64(bytes(33))}, 'nonce'),
    ({'evidence': ['x']}, 'evidence'),
    ({'evidence': b64(bytes(attestation.MAX_EVIDENCE_SIZE + 3))},
     'evidence'),
    ({'certificates': b64(b'cert')}, 'certificates'),
    ({'certificates': [b64(b'c')] * (attestation.MAX_CERTS + 1)},
     'certificates'),
    ({'certificates': [b64(b'c'), '%%']}, 'certificates[1]'),
    ({'tee_public_key': b64(bytes(engine_mod.MAX_PUBLIC_KEY + 3))},
     'tee_public_key'),
    ({'collateral': [b64(b'x')]}, 'collateral'),
    ({'collateral': {'f%d' % i: '' for i in range(
        app_mod.MAX_COLLATERAL_FILES + 1)}}, 'collateral'),
    ({'collateral': {'x' * (app_mod.MAX_COLLATERAL_NAME + 1): ''}},
     'collateral'),
    ({'collateral': {'tcb_info.json': 5}}, 'collateral file 0'),
])
def test_invalid_attest_fields(app, change, field):
    body = dict(_valid_body(), **change)
    for name, value in change.items():
        if value is None:
            del body[name]
    document = _problem(_post(app, '/v1/attest', body), 400)
    assert document['detail'].startswith(field), document


@pytest.mark.parametrize('data', [b'', b'{', b'\xff\xfe\x00', b'[1]',
                                  b'"instance"', b'[' * 100000])
def test_body_not_a_json_object(app, data):
    assert 'JSON' in _problem(_post(app, '/v1/challenge', data), 400)[
        'detail']


def test_database_unreachable(app, guest, nitride_conf):
    nitride_conf.set_override('connection',
                              'sqlite:////nonexistent-dir/nitride.sqlite',
                              group='database')
    db_api.dispose_engine()
    try:
        _problem(_post(app, '/v1/challenge',
                       {'instance': guest.instance_uuid}), 503)
    finally:
        nitride_conf.clear_override('connection', group='database')
        db_api.dispose_engine()


@pytest.mark.parametrize('error', [
    db_exc.DBConnectionError('down'),
    sa_exc.OperationalError('INSERT', {}, Exception('database is locked')),
])
def test_database_error_while_attesting_releases_nothing(
        app, guest, monkeypatch, caplog, error):
    body = _attest_body(guest, _nonce(app, guest))

    def fail(*args, **kwargs):
        raise error

    monkeypatch.setattr(db_api, 'attestation_create', fail)
    response = _post(app, '/v1/attest', body)
    document = _problem(response, 503)
    assert 'service unavailable' in document['detail']
    assert 'token' not in document and b'eyJ' not in response.body
    assert body['tee_public_key'] not in caplog.text


def test_unexpected_error_is_generic(app, engine, guest, monkeypatch,
                                     caplog):
    def fail(instance):
        raise RuntimeError('secret detail')

    monkeypatch.setattr(engine, 'challenge', fail)
    with caplog.at_level(logging.ERROR):
        response = _post(app, '/v1/challenge',
                         {'instance': guest.instance_uuid})
    document = _problem(response, 500)
    assert document['detail'] == 'internal error'
    assert b'secret' not in response.body and b'Traceback' not in (
        response.body)
    assert 'unexpected error' in caplog.text


# Real processes: the console scripts and the WSGI module.

def _script(name: str) -> str:
    return os.path.join(os.path.dirname(sys.executable), name)


def _config(tmp_path, token_key_file, pki_dir) -> str:
    path = tmp_path / 'buckypaper.conf'
    path.write_text(
        '[DEFAULT]\ndebug = true\nlog_file = %s\n'
        '[database]\nconnection = sqlite:///%s\n'
        '[nitride]\ntoken_key_file = %s\nsimulated_tee_trust_dir = %s\n'
        '[nitride_api]\nbind_host = 127.0.0.1\nbind_port = 0\n'
        % (tmp_path / 'api.log', tmp_path / 'api.sqlite', token_key_file,
           pki_dir))
    subprocess.run([_script('buckypaper-nitride-manage'), '--config-file',
                    str(path), 'db', 'sync'], check=True, timeout=TIMEOUT)
    return str(path)


def _register(nitride_conf, engine, tmp_path, guest):
    """Register ``guest`` in the database of the configuration file."""
    nitride_conf.set_override('connection', 'sqlite:///%s' % (
        tmp_path / 'api.sqlite'), group='database')
    db_api.dispose_engine()
    try:
        engine.register(guest.instance_uuid, PROJECT, 'sev-snp',
                        [guests.MEASUREMENT.hex()])
    finally:
        nitride_conf.clear_override('connection', group='database')
        db_api.dispose_engine()


def _port(process, log_path) -> int:
    deadline = time.monotonic() + TIMEOUT
    while time.monotonic() < deadline:
        assert process.poll() is None, 'the server exited'
        if os.path.exists(log_path):
            with open(log_path) as log:
                found = re.search(r'listening on 127\.0\.0\.1 port (\d+)',
                                  log.read())
            if found:
                return int(found.group(1))
        time.sleep(0.1)
    raise AssertionError('the server did not start in %ds' % TIMEOUT)


def _http_post(port, path, body) -> dict:
    request = urllib.request.Request(
        'http://127.0.0.1:%d%s' % (port, path),
        data=json.dumps(body).encode(),
        headers={'Content-Type': 'application/json'})
    with urllib.request.urlopen(request, timeout=TIMEOUT) as response:
        assert response.headers['Cache-Control'] == 'no-store'
        return json.load(response)


def test_server_process(tmp_path, token_key_file, pki_dir, pki, engine,
                        nitride_conf):
    guest = guests.Guest(pki, str(uuid.uuid4()), PROJECT)
    config = _config(tmp_path, token_key_file, pki_dir)
    _register(nitride_conf, engine, tmp_path, guest)
    log_path = str(tmp_path / 'api.log')
    with open(tmp_path / 'output', 'wb') as output:
        process = subprocess.Popen(
            [_script('buckypaper-nitride-api'), '--config-file', config],
            stdout=output, stderr=subprocess.STDOUT)
    try:
        port = _port(process, log_path)
        challenge = _http_post(port, '/v1/challenge',
                               {'instance': guest.instance_uuid})
        nonce = engine_mod.b64decode(challenge['nonce'], 'nonce', 64)
        answer = _http_post(port, '/v1/attest', _attest_body(guest, nonce))
        assert answer['status'] == 'affirming'
        claims = engine.verify_ticket(answer['token'])
        assert claims[token.INSTANCE] == guest.instance_uuid
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=TIMEOUT) == 0
    finally:
        if process.poll() is None:
            process.kill()
            process.wait(timeout=TIMEOUT)
    with open(log_path) as log:
        text = log.read()
    assert '"POST /v1/attest HTTP/1.1" 200' in text
    assert b64(guest.public_key) not in text


def test_wsgi_application(tmp_path, token_key_file, pki_dir):
    config = _config(tmp_path, token_key_file, pki_dir)
    script = (
        'import webob\n'
        'from buckypaper_os.nitride_service.api import wsgi\n'
        'for path in ("/v1/jwks", "/v1/challenge"):\n'
        '    request = webob.Request.blank(\n'
        '        path, method="POST", content_type="application/json",\n'
        '        json={"instance": "%s"})\n'
        '    print(request.get_response(wsgi.application).status_int)\n'
        % uuid.uuid4())
    environ = dict(os.environ,
                   OS_BUCKYPAPER_CONFIG_DIR=os.path.dirname(config),
                   OS_BUCKYPAPER_CONFIG_FILES=os.path.basename(config))
    result = subprocess.run([sys.executable, '-c', script], env=environ,
                            capture_output=True, text=True, timeout=TIMEOUT)
    assert result.stdout.split() == ['405', '404'], result.stderr
