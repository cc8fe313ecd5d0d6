"""Generated disk keys: buckypaper:disk_key=generate in Nova's framework.

Barbican is not run inside Nova's functional environment (its
configuration would share Nova's global oslo.config object): its REST API
is stood in for with requests-mock, as Nova's own tests do for external
services, and python-barbicanclient talks to it exactly as to Barbican.
The stand-in refuses a payload stored before the release policy and ACL
and checks the policy with the Vault's own parser. The same module
against a real Barbican 23 with the Vault: tests/functional/test_disk_key.py.
"""

import json
import re
import uuid

import fixtures
from nova.api import auth as nova_auth
from nova.api.metadata import base as metadata_base
from nova import context as nova_context
from nova import objects
from oslo_utils.fixture import uuidsentinel as uuids
import requests_mock
from requests_mock.contrib import fixture as rm_fixture

from buckypaper_os.barbican_plugin import policy
from buckypaper_os.enclaivelet import config as enclaivelet_config
from buckypaper_os.nova_driver import driver as bdriver
from tests.functional.nova import test_confidential_servers as servers

BARBICAN = 'http://barbican.test:9311'
NITRIDE_URL = 'https://nitride.test:9797'
NITRIDE_USER = 'nitride-user-id'
_SECRET = re.compile(r'/v1/secrets/([0-9a-f-]{36})(/metadata|/acl)?$')


class FakeBarbican:
    """Barbican's secrets API as python-barbicanclient uses it."""

    def __init__(self, mocker):
        self.secrets = {}
        self.calls = []
        self.tokens = set()
        self.fail = None
        mocker.get(BARBICAN + '/', json={'versions': {'values': [{
            'id': 'v1', 'status': 'CURRENT', 'min_version': '1.0',
            'max_version': '1.1',
            'links': [{'rel': 'self', 'href': BARBICAN + '/v1/'}]}]}})
        mocker.post(re.compile(re.escape(BARBICAN) + r'/v1/secrets/?$'),
                    json=self._create)
        mocker.register_uri(requests_mock.ANY, re.compile(
            re.escape(BARBICAN) + r'/v1/secrets/.+'), text=self._secret)

    def _record(self, request, step):
        self.calls.append(step)
        self.tokens.add(request.headers.get('X-Auth-Token'))

    def _create(self, request, context):
        self._record(request, 'create')
        body = request.json()
        if self.fail == 'create':
            context.status_code = 403
            return {'code': 403, 'description': 'Forbidden'}
        assert 'payload' not in body
        secret = str(uuid.uuid4())
        self.secrets[secret] = {'meta': body, 'metadata': {}, 'acl': None,
                                'payload': None}
        context.status_code = 201
        return {'secret_ref': BARBICAN + '/v1/secrets/' + secret}

    def _secret(self, request, context):
        secret, part = _SECRET.search(request.path).groups()
        step = {'/metadata': 'metadata', '/acl': 'acl'}.get(part, 'payload')
        if request.method == 'DELETE':
            step = 'delete'
        elif request.method == 'GET':
            step = 'get'
        self._record(request, step)
        entry = self.secrets.get(secret)
        if entry is None:
            context.status_code = 404
            return json.dumps({'code': 404, 'description': 'Not Found'})
        if self.fail == step:
            context.status_code = 403
            return json.dumps({'code': 403, 'description': 'Forbidden'})
        if step == 'get':
            return json.dumps(dict(entry['meta'], secret_ref=request.url))
        if step == 'delete':
            del self.secrets[secret]
            context.status_code = 204
            return ''
        if step == 'metadata':
            entry['metadata'] = request.json()['metadata']
            context.status_code = 201
            return json.dumps({'metadata': entry['metadata']})
        if step == 'acl':
            entry['acl'] = request.json()
            return json.dumps({'acl_ref': request.url})
        # The payload: one PUT, after the policy (the Vault's parser).
        if entry['payload'] is not None or not entry['acl']:
            context.status_code = 409 if entry['payload'] else 400
            return json.dumps({'code': context.status_code})
        policy.from_metadata(entry['metadata'], 'any-project')
        assert request.headers['Content-Type'] == 'application/octet-stream'
        entry['payload'] = len(request.body)
        context.status_code = 204
        return ''


class TestDiskKey(servers._SNPBase):

    def setUp(self):
        super().setUp()
        mocker = self.useFixture(rm_fixture.Fixture(real_http=True))
        self.barbican = FakeBarbican(mocker)
        self.flags(barbican_endpoint=BARBICAN, nitride_guest_url=NITRIDE_URL,
                   nitride_user_id=NITRIDE_USER, group='buckypaper_compute')
        # The user's Keystone token in the request context, as auth_token
        # middleware would put it there (Nova's API fixture drops it).
        self.token = uuids.user_token
        request = self.api.request

        def send_token(url, method='GET', body=None, headers=None):
            return request(url, method, body,
                           dict(headers or {}, **{'X-Auth-Token': self.token}))

        self.useFixture(fixtures.MockPatchObject(self.api, 'request',
                                                 new=send_token))
        create_context = nova_auth.NovaKeystoneContext._create_context

        def keep_token(env, **kwargs):
            ctx = create_context(env, **kwargs)
            ctx.auth_token = env.get('HTTP_X_AUTH_TOKEN')
            return ctx

        self.useFixture(fixtures.MonkeyPatch(
            'nova.api.auth.NovaKeystoneContext._create_context', keep_token))

    def _key_flavor(self, **specs):
        return self._flavor(**{'buckypaper:disk_key': 'generate',
                               'buckypaper:min_tcb': 'snp=22', **specs})

    def _guest_metadata(self, server):
        """What the enclaivelet reads of the guest's meta_data.json.

        The document is the one Nova's metadata service and config drive
        serve, built from the instance in the database.
        """
        md = metadata_base.get_metadata_by_instance_id(
            server['id'], '10.0.0.2', nova_context.get_admin_context())
        document = json.loads(md.lookup('/openstack/latest/meta_data.json'))
        return enclaivelet_config.from_metadata(document)

    def test_generated_bound_given_to_the_guest_and_deleted(self):
        server = self._boot(self.image, self._key_flavor())
        (secret, entry), = self.barbican.secrets.items()
        ref = BARBICAN + '/v1/secrets/' + secret
        self.assertEqual(['create', 'metadata', 'acl', 'payload'],
                         self.barbican.calls)
        self.assertEqual({'buckypaper-instance': server['id'],
                          'buckypaper-tee': 'sev-snp',
                          'buckypaper-min-tcb': '{"snp": 22}'},
                         entry['metadata'])
        self.assertEqual({'read': {'users': [NITRIDE_USER],
                                   'project-access': True}}, entry['acl'])
        self.assertEqual(64, entry['payload'])
        self.assertEqual(('aes', 512, 'xts', 'symmetric'), tuple(
            entry['meta'][k] for k in ('algorithm', 'bit_length', 'mode',
                                       'secret_type')))
        # The user's token, as Nova's other service clients send it.
        self.assertEqual({self.token}, self.barbican.tokens)

        self.assertEqual({'instance_uuid': server['id'], 'secret': ref,
                          'nitride_url': NITRIDE_URL},
                         self._guest_metadata(server))
        self.assertIn(server['id'], self.nitride.registered)

        self._delete_server(server)
        self.assertEqual({}, self.barbican.secrets)
        self.assertEqual('delete', self.barbican.calls[-1])
        self.assertNotIn(server['id'], self.nitride.registered)

    def test_kept_on_delete(self):
        server = self._boot(self.image, self._key_flavor(**{
            'buckypaper:disk_key_on_delete': 'keep'}))
        self._delete_server(server)
        (entry,) = self.barbican.secrets.values()
        self.assertEqual(server['id'],
                         entry['metadata']['buckypaper-instance'])
        self.assertNotIn('delete', self.barbican.calls)

    def test_relaunch_keeps_the_key(self):
        # A hard reboot, rebuild or migration builds the guest again: the
        # instance keeps the key it has. (Fake libvirt cannot hard-reboot
        # here, so the driver's step is called as _create_guest calls it.)
        server = self._boot(self.image, self._key_flavor())
        before = dict(self.barbican.secrets)
        ctx = nova_context.get_admin_context()
        instance = objects.Instance.get_by_uuid(
            ctx, server['id'], expected_attrs=['system_metadata', 'flavor'])
        launch = bdriver.Launch('sev-snp', instance.project_id, None,
                                b'', b'', {}, True, disk_key=True)
        self.assertIsNone(self.computes['compute1'].driver._provide_disk_key(
            ctx, instance, launch))
        self.assertEqual(before, self.barbican.secrets)
        self.assertEqual(1, self.barbican.calls.count('create'))

    def _assert_failed_without_orphan(self, server, message):
        fault = self.api.get_server(server['id'])['fault']
        self.assertIn(message, fault['message'])
        self.assertEqual({}, self.barbican.secrets)
        self.assertNotIn(server['id'], self.nitride.registered)
        self.assertFalse([x for x in self.defined if server['id'] in x])
        self.assertNotIn('buckypaper_secret',
                         self.api.get_server(server['id'])['metadata'])

    def test_refused_acl_fails_the_boot_and_deletes_the_secret(self):
        self.barbican.fail = 'acl'
        server = self._boot(self.image, self._key_flavor(),
                            expected_state='ERROR')
        self._assert_failed_without_orphan(server, 'disk key')
        self.assertEqual(['create', 'metadata', 'acl', 'delete'],
                         [c for c in self.barbican.calls if c != 'get'])

    def test_refused_create_fails_the_boot(self):
        self.barbican.fail = 'create'
        server = self._boot(self.image, self._key_flavor(),
                            expected_state='ERROR')
        self._assert_failed_without_orphan(server, 'disk key')

    def test_registration_failure_deletes_the_key(self):
        self.nitride.fail = RuntimeError('broker unreachable')
        server = self._boot(self.image, self._key_flavor(),
                            expected_state='ERROR')
        self._assert_failed_without_orphan(server, 'Nitride')
        self.assertIn('delete', self.barbican.calls)

    def test_unsaved_metadata_deletes_the_key(self):
        save = objects.Instance.save

        def fail_once(instance, *args, **kwargs):
            if (bdriver.META_SECRET in (instance.metadata or {})
                    and not self.barbican.calls.count('delete')):
                raise RuntimeError('database gone')
            return save(instance, *args, **kwargs)

        self.useFixture(fixtures.MockPatchObject(objects.Instance, 'save',
                                                 new=fail_once))
        server = self._boot(self.image, self._key_flavor(),
                            expected_state='ERROR')
        self.assertEqual({}, self.barbican.secrets)
        self.assertEqual(['create', 'metadata', 'acl', 'payload', 'delete'],
                         [c for c in self.barbican.calls if c != 'get'])
        self.assertNotIn(server['id'], self.nitride.registered)

    def test_unconfigured_nitride_user_fails_the_boot(self):
        self.flags(nitride_user_id=None, group='buckypaper_compute')
        server = self._boot(self.image, self._key_flavor(),
                            expected_state='ERROR')
        self._assert_failed_without_orphan(server, 'nitride_user_id')
        self.assertEqual([], self.barbican.calls)

    def test_attestation_disabled_refused(self):
        server = self._boot(self.image, self._key_flavor(**{
            'buckypaper:attestation': 'disabled'}), expected_state='ERROR')
        self._assert_failed_without_orphan(
            server, 'needs buckypaper:attestation=required')
        self.assertEqual([], self.barbican.calls)
