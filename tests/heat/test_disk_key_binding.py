"""OS::Buckypaper::DiskKeyBinding against a real Barbican with the Vault.

Barbican's API (PyPI) runs on loopback with the Vault as its store, as in
the demo. There is no Keystone here, so the Heat context's keystoneauth
session uses the noauth plugin with Barbican as its endpoint and sends
the identity headers that Keystone's auth_token middleware would set.
Heat builds the resource from a template with our plugin loaded from
``plugin_dirs``, and its handle_create / handle_delete run as the engine
runs them. (Heat's barbican.secret and nova.server constraints are not
run: there is no Nova, and the loopback Barbican serves only /v1, not the
version document barbicanclient asks for first.) The release to an
attested guest after such a binding is in tests/functional/test_disk_key.py.
"""

import json
import os
import subprocess
import sys
import uuid

import pytest

from buckypaper_os.demo import barbican as barbican_mod
from buckypaper_os import heat_plugin

pytest.importorskip('heat.engine.resources')
pytest.importorskip('barbican')

from heat.common import context as context_mod  # noqa: E402
from heat.engine import stack as stack_mod  # noqa: E402
from heat.engine import template as template_mod  # noqa: E402
from keystoneauth1 import exceptions as ks_exceptions  # noqa: E402
from keystoneauth1 import noauth  # noqa: E402
from keystoneauth1 import session as ks_session  # noqa: E402

PROJECT = 'tenant-project'
TENANT = barbican_mod.identity(PROJECT, 'alice')


@pytest.fixture(scope='module')
def barbican(tmp_path_factory):
    root = str(tmp_path_factory.mktemp('barbican'))
    kek = os.path.join(root, 'kek-1')
    with open(kek, 'wb') as f:
        f.write(os.urandom(32))
    # Storing needs no Nitride: the Vault asks it only at release.
    service = barbican_mod.Barbican(root, 'fake://', 'nitride-heat-test',
                                    [kek], debug=False)
    service.start()
    yield service
    service.stop()


def _empty_secret(barbican) -> str:
    """What OS::Barbican::Secret without payload creates: its href."""
    return barbican.json('POST', '/v1/secrets', TENANT, {
        'name': 'disk key', 'secret_type': 'symmetric', 'algorithm': 'aes',
        'bit_length': 512, 'mode': 'xts'})['secret_ref']


def _stack(env, barbican, **properties):
    """A stack with one binding (resources refer to it weakly)."""
    ctx = context_mod.RequestContext(project_id=PROJECT, user_id='alice',
                                     region_name='RegionOne')
    ctx._keystone_session = ks_session.Session(
        auth=noauth.NoAuth(endpoint=barbican.url),
        additional_headers=TENANT)
    tmpl = template_mod.Template({
        'heat_template_version': '2021-04-16',
        'resources': {'key_binding': {
            'type': 'OS::Buckypaper::DiskKeyBinding',
            'properties': properties}}}, env=env)
    return stack_mod.Stack(ctx, 'confidential', tmpl)


def _acl_users(barbican, ref):
    acl = barbican.json('GET', '/v1/secrets/%s/acl' % ref.rsplit('/', 1)[-1],
                        TENANT)
    return (acl.get('read') or {}).get('users', [])


def _metadata(barbican, ref):
    return barbican.json('GET', '/v1/secrets/%s/metadata'
                         % ref.rsplit('/', 1)[-1], TENANT)['metadata']


def test_create_binds_the_key_and_delete_revokes(env, barbican):
    ref = _empty_secret(barbican)
    server = str(uuid.uuid4())
    stack = _stack(env, barbican, secret=ref, server=server, tee='sev-snp',
                   min_tcb={'snp': 22}, nitride_user='nitride')
    resource = stack['key_binding']
    resource.handle_create()
    assert resource.resource_id == ref
    policy = {'buckypaper-instance': server, 'buckypaper-tee': 'sev-snp',
              'buckypaper-min-tcb': json.dumps({'snp': 22})}
    assert _metadata(barbican, ref) == policy
    assert _acl_users(barbican, ref) == ['nitride']
    secret = barbican.json('GET', '/v1/secrets/' + ref.rsplit('/', 1)[-1],
                           TENANT)
    assert secret['content_types'] == {'default': 'application/octet-stream'}
    # A bound key: the Vault gives it to nobody in the clear, not even to
    # its owner.
    with pytest.raises(barbican_mod.HTTPError) as exc:
        barbican.payload(ref.rsplit('/', 1)[-1], TENANT)
    assert exc.value.status == 403
    assert resource._resolve_attribute('secret') == ref
    assert resource._resolve_attribute('release_policy') == policy

    resource.handle_delete()
    assert _acl_users(barbican, ref) == []
    barbican.request('DELETE', '/v1/secrets/' + ref.rsplit('/', 1)[-1],
                     TENANT)
    resource.handle_delete()  # the secret is gone: nothing to revoke


def test_secret_by_id_through_the_catalog(env, barbican):
    ref = _empty_secret(barbican)
    stack = _stack(env, barbican, secret=ref.rsplit('/', 1)[-1],
                   server=str(uuid.uuid4()), key_bytes=32)
    resource = stack['key_binding']
    resource.handle_create()
    assert resource.resource_id == ref
    assert _acl_users(barbican, ref) == []
    assert list(_metadata(barbican, ref)) == ['buckypaper-instance']


def test_a_secret_with_a_key_is_not_rebound(env, barbican):
    ref = _empty_secret(barbican)
    first, second = str(uuid.uuid4()), str(uuid.uuid4())
    stack = _stack(env, barbican, secret=ref, server=first)
    stack['key_binding'].handle_create()
    stack = _stack(env, barbican, secret=ref, server=second)
    resource = stack['key_binding']
    with pytest.raises(ks_exceptions.HttpError) as exc:
        resource.handle_create()
    assert exc.value.http_status == 409
    assert resource.resource_id is None
    # The Vault keeps the policy it took with the payload; the metadata
    # the second binding wrote does not move the key.
    assert _metadata(barbican, ref)['buckypaper-instance'] == second


def test_invalid_policy_sends_nothing(env, barbican):
    from buckypaper_os.barbican_plugin import policy
    ref = _empty_secret(barbican)
    stack = _stack(env, barbican, secret=ref, server='my-server')
    resource = stack['key_binding']
    with pytest.raises(policy.PolicyError, match='must be a UUID'):
        resource.handle_create()
    assert _metadata(barbican, ref) == {}
    secret = barbican.json('GET', '/v1/secrets/' + ref.rsplit('/', 1)[-1],
                           TENANT)
    assert not secret.get('content_types')


def test_schema_refuses_other_key_lengths_and_tees(env, barbican):
    from heat.common import exception
    stack = _stack(env, barbican, secret='s', server='x')
    props = stack['key_binding'].properties
    for name, good, bad in (('key_bytes', 64, 16), ('tee', 'tdx', 'sgx')):
        assert props.props[name].get_value(good, validate=True) == good
        with pytest.raises(exception.StackValidationFailed,
                           match='is not an allowed value'):
            props.props[name].get_value(bad, validate=True)


LOAD = """
from oslo_config import cfg
from heat.common import config
cfg.CONF([], project='heat', default_config_files=[])
cfg.CONF.set_override('plugin_dirs', [%r])
from heat.engine import environment, resources
resources.initialise()
cls = environment.Environment({}).get_class('OS::Buckypaper::DiskKeyBinding')
print(cls.__module__)
"""


def test_devstack_layout_loads_the_plugin(tmp_path):
    """A link named buckypaper in Heat's plugin directory, as devstack."""
    plugins = tmp_path / 'plugins'
    plugins.mkdir()
    (plugins / 'buckypaper').symlink_to(heat_plugin.__path__[0])
    done = subprocess.run([sys.executable, '-c', LOAD % str(plugins)],
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert done.stdout.split()[-1] == (
        'heat.engine.plugins.buckypaper.disk_key')
