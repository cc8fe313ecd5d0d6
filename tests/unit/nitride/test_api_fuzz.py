"""The guest API under arbitrary requests, in process through WSGI.

Whatever the method, path, headers and body, the answer is a 2xx of a
real route or an RFC 7807 problem with a 4xx status: never a 5xx, an
exception out of the application or a hang.
"""

import base64
import contextlib
import io
import json
import signal
import uuid

from hypothesis import given
from hypothesis import HealthCheck
from hypothesis import settings
from hypothesis import strategies as st
import pytest

from buckypaper_os.nitride_service.api import app as app_mod
from buckypaper_os.nitride_service.api import problems
from tests import fuzzing
from tests.unit.nitride import guests

PROJECT = 'project-a'
#: Seconds one request may take before it counts as a hang.
HANG = 20
ROUTES = ['/', '/v1/challenge', '/v1/attest', '/v1/jwks', '/v1/release']
FIELDS = ['instance', 'nonce', 'evidence', 'certificates', 'tee_public_key',
          'collateral', 'secret', 'ticket']
HEALTH = [HealthCheck.too_slow, HealthCheck.function_scoped_fixture]


def _fuzz(ci_examples: int) -> settings:
    return settings(fuzzing.settings_for(ci_examples),
                    suppress_health_check=HEALTH)


@pytest.fixture
def guest(engine, nitride_conf, pki):
    """A registered guest that may ask for as many challenges as it likes."""
    nitride_conf.set_override('challenge_burst', 1000, 'nitride')
    instance = str(uuid.uuid4())
    engine.register(instance, PROJECT, 'sev-snp',
                    [guests.MEASUREMENT.hex()])
    yield guests.Guest(pki, instance, PROJECT)
    nitride_conf.clear_override('challenge_burst', 'nitride')


@pytest.fixture
def app(engine, nitride_conf, guest):
    return app_mod.make_app(engine, nitride_conf)


@contextlib.contextmanager
def _deadline(seconds: int):
    def expired(signum, frame):
        raise TimeoutError('request still running after %d s' % seconds)

    previous = signal.signal(signal.SIGALRM, expired)
    signal.alarm(seconds)
    try:
        yield
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, previous)


def _call(app, method, path, headers, body):
    environ = {'REQUEST_METHOD': method, 'PATH_INFO': path,
               'QUERY_STRING': '', 'SERVER_NAME': '127.0.0.1',
               'SERVER_PORT': '9797', 'SERVER_PROTOCOL': 'HTTP/1.1',
               'wsgi.url_scheme': 'http', 'wsgi.input': io.BytesIO(body),
               'wsgi.errors': io.StringIO(), 'wsgi.version': (1, 0),
               'wsgi.multithread': True, 'wsgi.multiprocess': False,
               'wsgi.run_once': False}
    environ['CONTENT_LENGTH'] = str(len(body))
    environ['CONTENT_TYPE'] = 'application/json'
    for name, value in headers.items():
        key = name.upper().replace('-', '_')
        if key not in ('CONTENT_TYPE', 'CONTENT_LENGTH'):
            key = 'HTTP_' + key
        environ[key] = value
    answer = {}

    def start_response(status, response_headers, exc_info=None):
        answer['status'] = int(status.split(' ', 1)[0])
        answer['headers'] = dict(response_headers)

    with _deadline(HANG):
        data = b''.join(app(environ, start_response))
    status, response_headers = answer['status'], answer['headers']
    assert status < 500, (status, data)
    if status >= 400:
        assert response_headers['Content-Type'] == problems.MEDIA_TYPE
    if method == 'HEAD':
        assert not data  # webob sends the headers only
    elif status >= 400:
        document = json.loads(data)
        assert document['status'] == status and document['detail']
    else:
        assert (method, path) in {('GET', '/'), ('GET', '/v1/jwks'),
                                  ('POST', '/v1/challenge'),
                                  ('POST', '/v1/attest')}, (method, path)
        json.loads(data)
    return status


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


TEXT = st.text(max_size=40)
HEADER_TEXT = st.binary(max_size=60).map(lambda b: b.decode('latin-1'))
HEADERS = st.dictionaries(
    st.one_of(st.sampled_from(['Content-Type', 'Content-Length',
                               'Transfer-Encoding', 'Accept', 'Host']),
              st.from_regex(r'[A-Za-z][A-Za-z0-9-]{0,20}', fullmatch=True)),
    st.one_of(HEADER_TEXT, st.sampled_from(
        ['application/json', 'application/json; charset=utf-8',
         'APPLICATION/JSON', 'text/plain', 'chunked', '0', '-1', '1e3',
         '9' * 30, '262145'])), max_size=4)
PATHS = st.one_of(st.sampled_from(ROUTES), st.sampled_from(ROUTES).map(
    lambda r: r + '/'), HEADER_TEXT.map(lambda t: '/' + t))
METHODS = st.one_of(st.sampled_from(['GET', 'POST', 'PUT', 'DELETE', 'HEAD',
                                     'OPTIONS']), st.text(min_size=1,
                                                          max_size=8))


@_fuzz(200)
@given(METHODS, PATHS, HEADERS, st.binary(max_size=512))
def test_arbitrary_requests(app, method, path, headers, body):
    _call(app, method, path, headers, body)


def _fields(guest, engine):
    """Arbitrary values, and plausible ones, for every request member."""
    instance = st.one_of(st.just(guest.instance_uuid),
                         st.uuids().map(str), fuzzing.JSON)
    b64 = st.one_of(st.binary(max_size=96).map(_b64), fuzzing.JSON)
    return {
        'instance': instance, 'nonce': b64, 'tee_public_key': b64,
        'evidence': st.one_of(b64, st.just(_b64(guest.evidence(
            bytes(32))[0]))),
        'certificates': st.one_of(st.lists(b64, max_size=3), fuzzing.JSON),
        'collateral': st.one_of(st.dictionaries(TEXT, b64, max_size=3),
                                fuzzing.JSON),
        'secret': st.one_of(st.uuids().map(str), fuzzing.JSON),
        'ticket': st.one_of(TEXT, fuzzing.JSON, st.just(
            'eyJhbGciOiJFUzM4NCJ9.e30.' + 'A' * 128)),
    }


@_fuzz(80)
@given(st.sampled_from(['/v1/challenge', '/v1/attest', '/v1/release']),
       st.data())
def test_arbitrary_json_members(app, engine, guest, path, data):
    fields = _fields(guest, engine)
    body = data.draw(st.fixed_dictionaries({}, optional={
        name: fields[name] for name in FIELDS}))
    _call(app, 'POST', path, {}, json.dumps(body).encode())


@_fuzz(25)
@given(st.data())
def test_arbitrary_evidence_for_a_fresh_nonce(app, engine, guest, data):
    """Past the nonce: the verifier sees the arbitrary evidence."""
    nonce = engine.challenge(guest.instance_uuid)['nonce']
    report, certs = guest.evidence(base64.b64decode(nonce))
    mutated = bytearray(report)
    for _ in range(data.draw(st.integers(0, 4))):
        mutated[data.draw(st.integers(0, len(report) - 1))] ^= data.draw(
            st.integers(1, 255))
    body = {'instance': guest.instance_uuid, 'nonce': nonce,
            'evidence': data.draw(st.one_of(st.just(_b64(mutated)), st.binary(
                max_size=1200).map(_b64))),
            'certificates': data.draw(st.one_of(st.just(
                [_b64(c) for c in certs]), st.lists(st.binary(
                    max_size=300).map(_b64), max_size=3))),
            'tee_public_key': _b64(guest.public_key)}
    status = _call(app, 'POST', '/v1/attest', {}, json.dumps(body).encode())
    if bytes(mutated) != report:
        assert status != 200


def test_path_that_is_not_utf8_is_not_found(app, caplog):
    """Regression: webob's path_info raised out of the app (a 500)."""
    assert _call(app, 'GET', '/v1/\x80\xff', {}, b'') == 404
    assert _call(app, 'POST', '/v1/challenge\x80', {}, b'{}') == 404
