"""POST /v1/release: the guest API relays to a (fake) Barbican."""

import base64
import http.server
import json
import urllib.parse
import uuid

from keystoneauth1 import loading as ks_loading
from oslo_db import exception as db_exc
import pytest
import webob

from buckypaper_os.demo import barbican as barbican_mod
from buckypaper_os.nitride_service.api import app as app_mod
from buckypaper_os.nitride_service import barbican_relay
from buckypaper_os.nitride_service.db import api as db_api
from buckypaper_os.nitride_service import decision
from buckypaper_os.nitride_service import jwk
from buckypaper_os.nitride_service import receipt
from buckypaper_os.nitride_service import token as token_mod
from tests import sockets
from tests.unit.nitride.conftest import b64
from tests.unit.nitride import guests

PROJECT = 'project-a'
#: The Vault's challenge (the engine signs over it; any fresh one will do).
CHALLENGE = decision.new_challenge()
SECRET = '0d5b6c8e-2a44-4f0e-9d53-1d7b8a3c5e10'
SEALED = b'\x01\x01' + b'sealed blob' * 10
GROUP = 'nitride_release'


class FakeBarbican(http.server.BaseHTTPRequestHandler):
    """Answers like Barbican with the Vault; records each request."""

    requests = []
    #: The client port of each request: one per connection.
    ports = []
    status = 200
    #: What a release answers, and how many bytes its Content-Length adds.
    sealed = SEALED
    missing = 0
    #: The Vault's call to Nitride for (ticket, secret); None: another
    #: store answers, without asking Nitride.
    decide = None

    def do_GET(self):
        type(self).requests.append((self.path, dict(self.headers)))
        type(self).ports.append(self.client_address[1])
        url = urllib.parse.urlsplit(self.path)
        if url.path == '/v1/transport_keys':
            body = json.dumps({'transport_keys': [
                'http://b/v1/transport_keys/tk-1'], 'total': 1}).encode()
        elif type(self).status != 200:
            self.send_response(type(self).status)
            body = json.dumps({'code': type(self).status,
                               'description': 'release not authorized: '
                               'attestation is contraindicated'}).encode()
            self.send_header('Content-Length', str(len(body)))
            self.end_headers()
            self.wfile.write(body)
            return
        else:
            if type(self).decide is not None:
                ticket = urllib.parse.parse_qs(url.query)[
                    'trans_wrapped_session_key'][0]
                type(self).decide(ticket, url.path.split('/')[3])
            body = type(self).sealed
        self.send_response(200)
        self.send_header('Content-Length', str(len(body) + type(self).missing))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


@pytest.fixture
def barbican():
    FakeBarbican.requests = []
    FakeBarbican.ports = []
    FakeBarbican.status = 200
    FakeBarbican.sealed = SEALED
    FakeBarbican.missing = 0
    FakeBarbican.decide = None
    with sockets.serving(FakeBarbican) as url:
        yield url


@pytest.fixture
def relay_conf(nitride_conf):
    """Sets ``[nitride_release]`` options for one test."""
    # A real keystoneauth plugin, loaded from the options: a fixed token.
    nitride_conf.register_opts(
        ks_loading.get_auth_plugin_conf_options('admin_token'), GROUP)
    names = []

    def override(**values):
        for name, value in values.items():
            nitride_conf.set_override(name, value, GROUP)
            names.append(name)
    yield override
    for name in names:
        nitride_conf.clear_override(name, GROUP)


@pytest.fixture
def decides(engine, barbican):
    """As the Vault does: Nitride decides (and audits) each release."""
    FakeBarbican.decide = lambda ticket, secret: engine.authorize_release(
        ticket, secret, PROJECT, {'project': PROJECT}, CHALLENGE)


@pytest.fixture
def app(engine, nitride_conf, relay_conf, barbican, decides):
    relay_conf(barbican_endpoint=barbican, auth_type='admin_token',
               endpoint='http://127.0.0.1:9', token='service-token')
    return app_mod.make_app(engine, nitride_conf)


@pytest.fixture
def ticket(engine, pki):
    instance = str(uuid.uuid4())
    engine.register(instance, PROJECT, 'sev-snp', [guests.MEASUREMENT.hex()])
    guest = guests.Guest(pki, instance, PROJECT)
    nonce = base64.b64decode(engine.challenge(instance)['nonce'])
    evidence, certs = guest.evidence(nonce)
    return engine.attest(instance, nonce, evidence, certs,
                         guest.public_key)['token'], instance


def _release(app, body) -> webob.Response:
    return webob.Request.blank(
        '/v1/release', method='POST', body=json.dumps(body).encode(),
        content_type='application/json').get_response(app)


def test_relays_the_sealed_blob_unchanged(app, ticket, engine):
    token, instance = ticket
    response = _release(app, {'secret': SECRET, 'ticket': token})
    assert response.status_int == 200, response.text
    answer = response.json
    signed = answer.pop('receipt')
    assert answer == {'secret': SECRET, 'instance': instance,
                      'sealed': b64(SEALED)}
    (submod,) = engine.verify_ticket(token)['submods'].values()
    tee_key = jwk.b64url_decode(submod[token_mod.TEE_PUBKEY])
    receipt.check(engine.keys.public_keys, token, signed, instance, tee_key,
                  SECRET, SEALED)
    with pytest.raises(token_mod.TokenError, match='receipt is not for'):
        receipt.check(engine.keys.public_keys, token, signed, instance,
                      tee_key, SECRET, SEALED + b'x')
    (listing, _), (payload, headers) = FakeBarbican.requests
    assert listing.startswith('/v1/transport_keys?plugin_name=' +
                              urllib.parse.quote_plus(
                                  barbican_relay.VAULT_PLUGIN))
    url = urllib.parse.urlsplit(payload)
    assert url.path == '/v1/secrets/%s/payload' % SECRET
    assert urllib.parse.parse_qs(url.query) == {
        'trans_wrapped_session_key': [token], 'transport_key_id': ['tk-1']}
    assert headers['X-Auth-Token'] == 'service-token'
    assert headers['Accept'] == '*/*' == barbican_mod.RELEASE_ACCEPT
    assert barbican_relay.VAULT_PLUGIN == barbican_mod.VAULT_PLUGIN
    # The transport key id is looked up once.
    _release(app, {'secret': SECRET, 'ticket': token})
    assert len(FakeBarbican.requests) == 3


def test_one_connection_for_many_releases(app, ticket, monkeypatch):
    """A Barbican that keeps connections alive is called over one."""
    monkeypatch.setattr(FakeBarbican, 'protocol_version', 'HTTP/1.1')
    token = ticket[0]
    for _ in range(3):
        response = _release(app, {'secret': SECRET, 'ticket': token})
        assert response.status_int == 200, response.text
    assert len(FakeBarbican.requests) == 4
    assert len(set(FakeBarbican.ports)) == 1


@pytest.mark.parametrize('answer', [b'', b'\x01\x01', b'k' * 64,
                                    b'\x02\x01' + SEALED[2:]])
def test_only_sealed_blobs_are_passed_on(app, ticket, answer):
    FakeBarbican.sealed = answer
    response = _release(app, {'secret': SECRET, 'ticket': ticket[0]})
    assert response.status_int == 502
    assert response.json['detail'] == (
        'Barbican\'s answer is not a sealed blob')


def test_a_cut_answer_is_a_bad_gateway(app, ticket):
    FakeBarbican.missing = 10
    response = _release(app, {'secret': SECRET, 'ticket': ticket[0]})
    assert response.status_int == 502
    assert 'answer was cut' in response.json['detail']


def test_barbican_refusal_is_passed_on(app, ticket):
    FakeBarbican.status = 403
    response = _release(app, {'secret': SECRET, 'ticket': ticket[0]})
    assert response.status_int == 403
    assert 'contraindicated' in response.json['detail']
    FakeBarbican.status = 500
    assert _release(app, {'secret': SECRET,
                          'ticket': ticket[0]}).status_int == 502


def test_forged_ticket_never_reaches_barbican(app, ticket):
    forged = ticket[0][:-4] + ('AAAA' if not ticket[0].endswith('AAAA')
                               else 'BBBB')
    assert _release(app, {'secret': SECRET,
                          'ticket': forged}).status_int == 403
    assert FakeBarbican.requests == []


def test_release_flood_stops_before_barbican(app, ticket, nitride_conf):
    nitride_conf.set_override('release_burst', 3, 'nitride')
    nitride_conf.set_override('releases_per_minute', 6, 'nitride')
    try:
        answers = [_release(app, {'secret': SECRET, 'ticket': ticket[0]})
                   for _ in range(8)]
    finally:
        nitride_conf.clear_override('release_burst', 'nitride')
        nitride_conf.clear_override('releases_per_minute', 'nitride')
    assert [a.status_int for a in answers] == [200] * 3 + [429] * 5
    assert all(1 <= int(a.headers['Retry-After']) <= 10
               for a in answers[3:])
    assert 'sealed' not in answers[-1].json
    # Barbican saw the three admitted releases only.
    assert len([p for p, _ in FakeBarbican.requests
                if SECRET in p]) == 3
    last = _last_release(ticket[1])
    assert (last['decision'], last['secret_ref']) == ('refused', SECRET)
    assert last['reasons'][0].startswith('too many releases')


def test_rate_limit_unavailable_nothing_relayed(app, ticket, monkeypatch):
    def broken(*args):
        raise db_exc.DBConnectionError('database is locked')
    monkeypatch.setattr(db_api, 'rate_admit', broken)
    response = _release(app, {'secret': SECRET, 'ticket': ticket[0]})
    assert response.status_int == 503
    assert 'sealed' not in response.json
    assert FakeBarbican.requests == []


@pytest.mark.parametrize('decided', ['nothing', 'refused', 'other secret'])
def test_no_vault_decision_nothing_relayed(app, ticket, engine, decided):
    """Another store answers (multiple-store mode) with what looks sealed.

    Its payload may be a plain key, or a blob the host put there sealed to
    the guest's public key: without the Vault's release decision for this
    instance and secret Nitride passes nothing on and signs no receipt.
    """
    token, instance = ticket
    FakeBarbican.decide = {
        'nothing': None,
        'refused': lambda t, s: engine.authorize_release(
            t, s, 'another-project', {'project': 'another-project'},
            CHALLENGE),
        'other secret': lambda t, s: engine.authorize_release(
            t, str(uuid.uuid4()), PROJECT, {'project': PROJECT}, CHALLENGE),
    }[decided]
    response = _release(app, {'secret': SECRET, 'ticket': token})
    assert response.status_int == 502, response.text
    assert 'without the Vault' in response.json['detail']
    assert 'sealed' not in response.json and 'receipt' not in response.json
    last = _last_release(instance)
    assert (last['decision'], last['secret_ref']) == ('refused', SECRET)


def _last_release(instance):
    return [e for e in db_api.audit_list(instance)
            if e['event'] == 'release'][-1]


@pytest.mark.parametrize('body', [{'ticket': 't'},
                                  {'secret': 'nope', 'ticket': 't'},
                                  {'secret': SECRET},
                                  {'secret': SECRET, 'ticket': ''},
                                  {'secret': SECRET, 'ticket': 7}])
def test_invalid_requests(app, body):
    assert _release(app, body).status_int == 400
    assert FakeBarbican.requests == []


def test_test_identity_headers(engine, nitride_conf, relay_conf, barbican,
                               decides, ticket):
    # The functional tests use auth_type = none; one plugin per process.
    relay_conf(barbican_endpoint=barbican, auth_type='admin_token',
               endpoint='http://127.0.0.1:9', token='unused',
               test_identity_headers={'X-Project-Id': 'service',
                                      'X-User-Id': 'nitride'})
    app = app_mod.make_app(engine, nitride_conf)
    response = _release(app, {'secret': SECRET, 'ticket': ticket[0]})
    assert response.status_int == 200, response.text
    (_, listing), (_, headers) = FakeBarbican.requests
    for sent in (listing, headers):
        assert sent['X-Project-Id'] == 'service'
        assert sent['X-User-Id'] == 'nitride'


def _refused(app, ticket, detail):
    response = _release(app, {'secret': SECRET, 'ticket': ticket})
    assert response.status_int == 503
    assert detail in response.json['detail']
    assert FakeBarbican.requests == []


def test_unconfigured_or_unreachable(engine, nitride_conf, relay_conf,
                                     barbican, ticket):
    # No credentials: nothing is sent, even with an endpoint.
    relay_conf(barbican_endpoint=barbican)
    _refused(app_mod.make_app(engine, nitride_conf), ticket[0],
             'not configured')
    # Credentials but no endpoint and no catalog.
    relay_conf(barbican_endpoint=None, auth_type='admin_token',
               token='service-token')
    _refused(app_mod.make_app(engine, nitride_conf), ticket[0],
             'service catalog')
    relay_conf(barbican_endpoint='http://127.0.0.1:9')
    _refused(app_mod.make_app(engine, nitride_conf), ticket[0],
             'unreachable')
