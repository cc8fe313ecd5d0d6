"""The authenticated tenant and operator API behind keystonemiddleware.

Tokens come from keystonemiddleware's own AuthTokenFixture: the real
auth_token middleware and the real oslo.policy rules decide.
"""

import json
import threading
import uuid

from keystonemiddleware import auth_token
from keystonemiddleware import fixture as ksm_fixture
import pytest
import webob

from buckypaper_os import binding
from buckypaper_os.nitride_service.api import app as app_mod
from buckypaper_os.nitride_service.api import server as api_server
from buckypaper_os.nitride_service.api import tenant
from buckypaper_os.nitride_service.api import tenant_client
from buckypaper_os.nitride_service import engine as engine_mod
from buckypaper_os.nitride_service import records
from tests.unit.nitride import guests

PROJECT_A = 'project-a'
PROJECT_B = 'project-b'
KEYSTONE = 'http://127.0.0.1:5000/v3'


@pytest.fixture
def tokens():
    fixture = ksm_fixture.AuthTokenFixture()
    fixture.setUp()
    issued = {}
    for name, project, roles in (('alice', PROJECT_A, ['member']),
                                 ('bob', PROJECT_B, ['member']),
                                 ('root', 'admin-project', ['admin'])):
        issued[name] = uuid.uuid4().hex
        fixture.add_token_data(token_id=issued[name], user_id=name,
                               project_id=project, role_list=roles)
    yield issued
    fixture.cleanUp()


@pytest.fixture
def api(engine, nitride_conf, tokens):
    # keystonemiddleware registers [keystone_authtoken] in cfg.CONF when
    # imported, and Barbican (the Vault's tests) replaces cfg.CONF.
    for group, options in auth_token.list_opts():
        nitride_conf.register_opts(options, group=group)
    nitride_conf.set_override('www_authenticate_uri', KEYSTONE,
                              group='keystone_authtoken')
    yield tenant.mount(app_mod.make_app(engine, nitride_conf), engine,
                       nitride_conf)
    nitride_conf.clear_override('www_authenticate_uri',
                                group='keystone_authtoken')


def _attest(engine, pki, project, measurement=guests.MEASUREMENT):
    """Register an instance of ``project`` and attest it once."""
    instance = str(uuid.uuid4())
    engine.register(instance, project, 'sev-snp',
                    [guests.MEASUREMENT.hex()], flavor_id='cvm.small')
    guest = guests.Guest(pki, instance, project, measurement=measurement)
    nonce = engine_mod.b64decode(engine.challenge(instance)['nonce'],
                                 'nonce', 64)
    evidence, certs = guest.evidence(nonce)
    try:
        engine.attest(instance, nonce, evidence, certs, guest.public_key)
    except engine_mod.Refused:
        pass
    return instance


@pytest.fixture
def instances(engine, pki):
    return {'good': _attest(engine, pki, PROJECT_A),
            'bad': _attest(engine, pki, PROJECT_A,
                           measurement=bytes.fromhex('66' * 48)),
            'other': _attest(engine, pki, PROJECT_B)}


def _call(api, path, token=None, method='GET', body=None):
    request = webob.Request.blank(path, method=method)
    if token:
        request.headers['X-Auth-Token'] = token
    if body is not None:
        request.body = json.dumps(body).encode()
        request.content_type = 'application/json'
    return request.get_response(api)


def test_without_a_token_nothing_is_shown(api, instances):
    for path in ('/v1/instances', '/v1/instances/%s' % instances['good'],
                 '/v1/instances/%s/records' % instances['good'],
                 '/v1/policies', '/v1/firmware'):
        response = _call(api, path)
        assert response.status_int == 401, path
        assert KEYSTONE in response.headers['WWW-Authenticate']
        assert instances['good'] not in response.text
        assert _call(api, path, token='not-a-token').status_int == 401


def test_without_keystone_configured_it_fails_closed(engine, nitride_conf,
                                                     instances):
    unconfigured = tenant.mount(app_mod.make_app(engine, nitride_conf),
                                engine, nitride_conf)
    for token in (None, uuid.uuid4().hex):
        response = _call(unconfigured, '/v1/instances', token)
        assert response.status_int == 503
        assert instances['good'] not in response.text
    assert _call(unconfigured, '/v1/jwks').status_int == 200


def test_the_guest_api_needs_no_token(api):
    response = _call(api, '/v1/jwks')
    assert response.status_int == 200 and response.json['keys']


def test_tenant_lists_its_instances_by_state(api, tokens, instances):
    response = _call(api, '/v1/instances', tokens['alice'])
    assert response.status_int == 200, response.text
    listed = {i['instance_uuid']: i for i in response.json['instances']}
    assert set(listed) == {instances['good'], instances['bad']}
    assert listed[instances['good']]['status'] == 'affirming'
    assert listed[instances['good']]['measurement'] == (
        guests.MEASUREMENT.hex())
    assert listed[instances['bad']]['status'] == 'contraindicated'
    assert any('measurement' in r for r in listed[instances['bad']][
        'reasons'])
    bad = _call(api, '/v1/instances?status=contraindicated',
                tokens['alice']).json['instances']
    assert [i['instance_uuid'] for i in bad] == [instances['bad']]
    assert _call(api, '/v1/instances?tee=tdx',
                 tokens['alice']).json['instances'] == []
    assert _call(api, '/v1/instances?status=great',
                 tokens['alice']).status_int == 400


def test_tenant_cannot_list_another_project(api, tokens, instances):
    response = _call(api, '/v1/instances?project_id=%s' % PROJECT_B,
                     tokens['alice'])
    assert response.status_int == 403
    assert instances['other'] not in response.text
    response = _call(api, '/v1/instances?all_projects=1', tokens['alice'])
    assert response.status_int == 403


def test_admin_lists_every_project(api, tokens, instances):
    response = _call(api, '/v1/instances?all_projects=true', tokens['root'])
    assert {i['instance_uuid'] for i in response.json['instances']} == set(
        instances.values())


def test_instance_detail(api, tokens, instances):
    response = _call(api, '/v1/instances/%s' % instances['good'],
                     tokens['alice'])
    assert response.status_int == 200, response.text
    detail = response.json
    assert detail['tee'] == 'sev-snp' and detail['status'] == 'affirming'
    assert detail['binding'] == binding.instance_binding(
        'sev-snp', instances['good'], PROJECT_A).hex()
    assert detail['measurements'] == [guests.MEASUREMENT.hex()]
    result = detail['attestation']
    assert result['claims']['host_data'] == detail['binding']
    assert 'reported_tcb' in result['claims']
    assert result['simulated'] is True
    assert 'token' not in result and 'evidence' not in result
    assert detail['attested_at'] == result['created_at']


def test_another_tenants_instance_is_not_found(api, tokens, instances):
    for path in ('/v1/instances/%s', '/v1/instances/%s/records'):
        theirs = _call(api, path % instances['good'], tokens['bob'])
        unknown = _call(api, path % uuid.uuid4(), tokens['bob'])
        assert theirs.status_int == unknown.status_int == 404
        assert theirs.json['detail'] == unknown.json['detail']
        assert instances['good'] not in theirs.text
    assert _call(api, '/v1/instances/not-a-uuid',
                 tokens['bob']).status_int == 404


def test_records_download_reverifies_offline(api, tokens, instances,
                                             pki_dir):
    response = _call(api, '/v1/instances/%s/records' % instances['bad'],
                     tokens['alice'])
    assert response.status_int == 200
    assert 'attachment' in response.headers['Content-Disposition']
    export = response.json
    assert {r['instance_uuid'] for r in export['attestations']} == {
        instances['bad']}
    findings = records.check(export, simulated_trust_dir=pki_dir)
    assert [(f['status'], f['ok']) for f in findings] == [
        ('contraindicated', True)]
    good = _call(api, '/v1/instances/%s/records' % instances['good'],
                 tokens['alice']).json
    assert [f['ok'] for f in records.check(good, pki_dir)] == [True]


def test_policies_admin_sets_tenant_reads_own(api, tokens):
    document = {'allow_debug': False, 'token_lifetime': 120}
    path = '/v1/policies/project/%s' % PROJECT_A
    assert _call(api, path, tokens['alice'], 'PUT',
                 document).status_int == 403
    response = _call(api, path, tokens['root'], 'PUT', document)
    assert response.status_int == 200, response.text
    assert _call(api, path, tokens['alice']).json['document'][
        'token_lifetime'] == 120
    assert _call(api, path, tokens['bob']).status_int == 403
    listed = _call(api, '/v1/policies', tokens['root']).json['policies']
    assert [(p['scope'], p['scope_id']) for p in listed] == [
        ('project', PROJECT_A)]
    assert _call(api, '/v1/policies', tokens['alice']).status_int == 403
    assert _call(api, '/v1/policies/project/nobody',
                 tokens['root']).status_int == 404
    assert _call(api, '/v1/policies/zone/x', tokens['root']).status_int \
        == 400


def test_a_bad_policy_is_refused_with_reasons(api, tokens):
    response = _call(api, '/v1/policies/flavor/cvm.small', tokens['root'],
                     'PUT', {'min_tcb': 'high'})
    assert response.status_int == 400
    assert response.json['reasons']
    response = _call(api, '/v1/policies/flavor/cvm.small', tokens['root'],
                     'PUT', ['not', 'an', 'object'])
    assert response.status_int == 400


def test_firmware_catalog_for_admins(api, tokens, nitride_conf, tmp_path):
    assert _call(api, '/v1/firmware', tokens['alice']).status_int == 403
    assert _call(api, '/v1/firmware', tokens['root']).json == {
        'firmware': []}
    catalog = tmp_path / 'catalog.json'
    catalog.write_text(json.dumps({'firmware': [
        {'name': 'ovmf-snp', 'path': '/usr/share/ovmf/OVMF.amdsev.fd',
         'sha384': 'ab' * 48, 'tees': ['sev-snp']}]}))
    nitride_conf.set_override('firmware_catalog', str(catalog),
                              group='buckypaper_compute')
    try:
        listed = _call(api, '/v1/firmware', tokens['root']).json
        assert listed['firmware'][0]['name'] == 'ovmf-snp'
        catalog.write_text('{"firmware": 3}')
        assert _call(api, '/v1/firmware', tokens['root']).status_int == 503
    finally:
        nitride_conf.clear_override('firmware_catalog',
                                    group='buckypaper_compute')


def test_unknown_routes_and_methods(api, tokens):
    assert _call(api, '/v1/instances', tokens['alice'],
                 'DELETE').status_int == 405
    assert _call(api, '/v1/instances/x/y/z',
                 tokens['alice']).status_int == 404


def test_a_path_that_is_not_utf8_is_not_found(api, tokens):
    """Regression: webob's path_info raised out of the app (a 500)."""
    for path in ('/v1/instances/%80', '/v1/policies/project/%ff'):
        assert _call(api, path, tokens['root']).status_int == 404


@pytest.fixture
def served(api):
    server = api_server.make_server('127.0.0.1', 0, api)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield 'http://127.0.0.1:%d' % server.server_address[1]
    server.shutdown()
    server.server_close()


def test_client_over_http(served, tokens, instances, pki_dir):
    alice = tenant_client.TenantClient(served, tokens['alice'])
    listed = alice.instances(status='affirming')
    assert [i['instance_uuid'] for i in listed] == [instances['good']]
    assert alice.instance(instances['bad'])['status'] == 'contraindicated'
    export = json.loads(alice.records(instances['good']))
    assert [f['ok'] for f in records.check(export, pki_dir)] == [True]
    with pytest.raises(tenant_client.TenantApiError) as info:
        alice.set_policy('project', PROJECT_A, {})
    assert info.value.status == 403
    with pytest.raises(tenant_client.TenantApiError) as info:
        tenant_client.TenantClient(served, tokens['bob']).instance(
            instances['good'])
    assert info.value.status == 404 and info.value.detail == (
        'no such instance')
    root = tenant_client.TenantClient(served, tokens['root'])
    root.set_policy('flavor', 'cvm.small', {'allow_debug': False})
    assert root.policy('flavor', 'cvm.small')['document'] == {
        'allow_debug': False}
    assert [p['scope_id'] for p in root.policies('flavor')] == ['cvm.small']
    assert root.firmware() == []
    with pytest.raises(tenant_client.TenantApiError) as info:
        root.set_policy('flavor', 'x', {'min_tcb': 'high'})
    assert info.value.status == 400 and info.value.reasons


def test_client_without_nitride():
    client = tenant_client.TenantClient('http://127.0.0.1:9', 'token',
                                        timeout=5)
    with pytest.raises(tenant_client.TenantApiError) as info:
        client.instances()
    assert info.value.status == 503
