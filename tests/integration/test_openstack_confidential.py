"""``openstack confidential ...`` against running Nitride workers.

The real ``openstack`` program (python-openstackclient with our plugin
from its entry points) logs in to a test Keystone on loopback, and its
commands reach the deployment's Nitride workers over the real RabbitMQ
with the token's user, project and roles as the RPC request context.
``flavor create`` talks to a recording Nova API on the same server.
"""

import json
import os
import subprocess
import sys
import uuid

from oslo_context import context as context_mod
import pytest

from buckypaper_os.cli import measure as measure_cli
from buckypaper_os.nitride_service.api import guest_client
from buckypaper_os.nitride_service import engine as engine_mod
from tests.integration import conftest
from tests.integration import fake_cloud
from tests.unit.measure import firmware
from tests.unit.nitride import guests

pytest.importorskip('openstackclient')

SERVICE = context_mod.RequestContext(user_id='nova', project_id='service',
                                     roles=['service'])
PROJECT = 'project-osc'
HOME = os.path.dirname(os.path.dirname(os.__file__))
USERS = {'operator': ('admin', ['admin', 'reader']),
         'alice': (PROJECT, ['member', 'reader']),
         'eve': ('project-eve', ['member', 'reader'])}


@pytest.fixture(scope='module')
def cloud():
    server = fake_cloud.FakeCloud(USERS)
    yield server
    server.stop()


@pytest.fixture(scope='module')
def osc(cloud, deployment):
    """Run ``openstack`` as a user; (exit code, stdout, stderr)."""

    def run(user, *argv, stdin=None):
        env = dict(os.environ)
        for name in list(env):
            if name.startswith('OS_'):
                del env[name]
        env.update({'OS_NITRIDE_TRANSPORT_URL': deployment.url,
                    'OS_NITRIDE_TOPIC': deployment.topic,
                    'OS_NITRIDE_TIMEOUT': '20'})
        command = [sys.executable, '-c',
                   'import sys; from openstackclient import shell; '
                   'sys.exit(shell.main(sys.argv[1:]))']
        auth = cloud.auth_args(user) if user else []
        # Not from the source tree: a stale buckypaper_os.egg-info there
        # would hide the installed entry points.
        done = subprocess.run(command + auth + ['confidential'] + list(argv),
                              env=env, input=stdin, capture_output=True,
                              text=True, timeout=120, cwd=HOME)
        return done.returncode, done.stdout, done.stderr

    def ok(user, *argv, **kwargs):
        code, out, err = run(user, *argv, **kwargs)
        assert code == 0, (argv, out, err)
        return out

    run.ok = ok
    return run


@pytest.fixture(scope='module')
def attested(deployment, pki):
    """A simulated guest Nova registered and that attested over HTTP."""
    instance = str(uuid.uuid4())
    deployment.api.register_instance(
        SERVICE, instance, PROJECT, 'sev-snp',
        [guests.MEASUREMENT.hex()], flavor_id='flavor-snp')
    guest = guests.Guest(pki, instance, PROJECT)
    client = guest_client.GuestClient(deployment.api_url, timeout=20)
    challenge = client.challenge(instance)
    nonce = engine_mod.b64decode(challenge['nonce'], 'nonce', 64)
    report, certs = guest.evidence(nonce)
    answer = client.attest(instance, challenge['nonce'], report, certs,
                           guest.public_key)
    assert answer['status'] == 'affirming'
    return instance


def test_attestation_show_list_export(osc, attested, tmp_path, pki_dir):
    shown = json.loads(osc.ok('alice', 'attestation', 'show', attested,
                              '-f', 'json'))
    assert shown['instance_uuid'] == attested
    assert (shown['project_id'], shown['tee']) == (PROJECT, 'sev-snp')
    assert shown['status'] == 'affirming' and shown['simulated'] is True
    assert shown['claims']['measurement'] == guests.MEASUREMENT.hex()
    assert shown['reasons'] == []
    table = osc.ok('alice', 'attestation', 'show', attested)
    assert 'affirming' in table and '| tee ' in table
    code, _, err = osc('operator', 'attestation', 'show',
                       str(uuid.uuid4()))
    assert code != 0 and 'has no attestation' in err

    listed = json.loads(osc.ok('alice', 'attestation', 'list', '-f',
                               'json'))
    assert [(r['Instance'], r['Status']) for r in listed] == [
        (attested, 'affirming')]
    assert json.loads(osc.ok('operator', 'attestation', 'list', '--project',
                             PROJECT, '-f', 'json')) == listed
    everything = json.loads(osc.ok('operator', 'attestation', 'list',
                                   '--all-projects', '--latest', '-f',
                                   'json'))
    assert attested in [r['Instance'] for r in everything]

    exported = json.loads(osc.ok('alice', 'attestation', 'export',
                                 attested))
    assert [a['instance_uuid'] for a in exported['attestations']] == [
        attested]
    assert exported['attestations'][0]['token']
    assert exported['jwks']['keys']
    assert 'attest' in [e['event'] for e in exported['audit']]
    path = tmp_path / 'records.json'
    osc.ok('alice', 'attestation', 'export', '--project', PROJECT,
           '--file', str(path))
    assert json.loads(path.read_text())['attestations'] == (
        exported['attestations'])
    # The exported file is what a tenant verifies offline: it holds with
    # the simulated TEE's roots, and not against the vendors' alone.
    done = subprocess.run(['buckypaper-attest', 'records', str(path),
                           '--simulated-trust-dir', pki_dir],
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, (done.stdout, done.stderr)
    done = subprocess.run(['buckypaper-attest', 'records', str(path)],
                          capture_output=True, text=True, timeout=60)
    assert done.returncode != 0


def test_other_tenants_are_refused(osc, attested):
    code, out, err = osc('eve', 'attestation', 'show', attested)
    assert code != 0 and 'not allowed' in err
    code, out, err = osc('eve', 'attestation', 'export', attested)
    assert code != 0 and 'not allowed' in err
    code, _, err = osc('alice', 'policy', 'set', '--project', PROJECT, '-',
                       stdin='{"allow_debug": true}')
    assert code != 0 and 'nitride:policy:set is not allowed' in err


def test_policy_set_then_show(osc, tmp_path):
    document = tmp_path / 'policy.yaml'
    document.write_text('min_tcb:\n  snp: 8\n  bl: 3\ntoken_lifetime: 600\n')
    stored = json.loads(osc.ok('operator', 'policy', 'set', '--project',
                               PROJECT, str(document), '-f', 'json'))
    expected = {'min_tcb': {'snp': 8, 'bl': 3}, 'token_lifetime': 600}
    assert stored == {'scope': 'project', 'id': PROJECT,
                      'policy': expected}
    assert json.loads(osc.ok('alice', 'policy', 'show', '--project',
                             PROJECT, '-f', 'json'))['policy'] == expected
    osc.ok('operator', 'policy', 'set', '--flavor', 'flavor-snp', '-',
           stdin=json.dumps({'allow_debug': False}))
    assert json.loads(osc.ok('operator', 'policy', 'show', '--flavor',
                             'flavor-snp', '-f', 'json')) == {
        'scope': 'flavor', 'id': 'flavor-snp',
        'policy': {'allow_debug': False}}
    code, _, err = osc('operator', 'policy', 'set', '--project', PROJECT,
                       '-', stdin='{"token_lifetime": -1}')
    assert code != 0 and 'token_lifetime must be' in err


def test_reference_value_set_then_show(osc, attested, deployment):
    shown = json.loads(osc.ok('alice', 'reference-value', 'show', attested,
                              '-f', 'json'))
    assert shown['measurements'] == [guests.MEASUREMENT.hex()]
    assert (shown['tee'], shown['flavor_id']) == ('sev-snp', 'flavor-snp')
    new = ['ab' * 48, guests.MEASUREMENT.hex()]
    changed = json.loads(osc.ok('operator', 'reference-value', 'set',
                                attested, '--measurement', new[0].upper(),
                                '--measurement', new[1], '-f', 'json'))
    assert changed['measurements'] == new
    assert changed['flavor_id'] == 'flavor-snp'
    assert deployment.api.get_reference(
        conftest.ADMIN, attested)['measurements'] == new
    code, _, err = osc('alice', 'reference-value', 'set', attested,
                       '--measurement', 'ab' * 48)
    assert code != 0 and 'not allowed' in err
    code, _, err = osc('operator', 'reference-value', 'show',
                       str(uuid.uuid4()))
    assert code != 0 and 'not registered with Nitride' in err


def test_measure_equals_buckypaper_measure(osc, capsys):
    image = firmware.real_image(firmware.AMDSEV)
    args = ['--firmware', image, '--vcpus', '4', '--cpu-model', 'EPYC-v4']
    # measure needs no cloud: no credentials at all.
    ours = json.loads(osc.ok(None, 'measure', 'sev-snp', *args, '-f',
                             'json'))
    assert measure_cli.main(['-f', 'json', 'sev-snp'] + args) == 0
    theirs = json.loads(capsys.readouterr().out)
    assert ours == theirs
    tdx = firmware.real_image(firmware.INTELTDX)
    ours = json.loads(osc.ok(None, 'measure', 'tdx', '--firmware', tdx,
                             '-f', 'json'))
    assert measure_cli.main(['-f', 'json', 'tdx', '--firmware', tdx]) == 0
    assert ours == json.loads(capsys.readouterr().out)
    code, _, err = osc(None, 'measure', 'sev-snp', *args, '--guest-policy',
                       str(0x30000 | 1 << 19))
    assert code != 0 and 'allows debugging' in err


def test_flavor_create_issues_the_nova_calls(osc, cloud):
    cloud.nova_requests.clear()
    out = json.loads(osc.ok(
        'operator', 'flavor', 'create', 'snp.small', '--tee', 'sev-snp',
        '--vcpus', '4', '--ram', '4096', '--disk', '40', '--min-tcb',
        'bl=3,snp=22', '--snp-min-abi', '1.55', '--no-snp-smt', '--firmware',
        'ovmf-amdsev', '--private', '-f', 'json'))
    specs = {'hw:mem_encryption': 'True',
             'hw:mem_encryption_model': 'amd-sev-snp',
             'buckypaper:attestation': 'required',
             'buckypaper:firmware': 'ovmf-amdsev',
             'buckypaper:min_tcb': 'bl=3,snp=22',
             'buckypaper:snp_min_abi': '1.55',
             'buckypaper:snp_smt': 'false'}
    assert out['properties'] == specs
    assert (out['name'], out['vcpus'], out['ram'], out['disk']) == (
        'snp.small', 4, 4096, 40)
    calls = [(m, p, b) for m, p, b in cloud.nova_requests]
    assert calls == [
        ('POST', '/compute/v2.1/flavors', {'flavor': {
            'name': 'snp.small', 'ram': 4096, 'vcpus': 4, 'disk': 40,
            'id': None, 'swap': 0, 'OS-FLV-EXT-DATA:ephemeral': 0,
            'rxtx_factor': 1.0, 'os-flavor-access:is_public': False}}),
        ('POST', '/compute/v2.1/flavors/%s/os-extra_specs' % out['id'],
         {'extra_specs': specs})]
    assert cloud.flavors[out['id']]['extra_specs'] == specs

    # nova-api refuses a key (our validators): no half-made flavor stays.
    cloud.nova_requests.clear()
    cloud.refuse_keys.add('buckypaper:tdx_sept_ve_disable')
    try:
        code, _, err = osc('operator', 'flavor', 'create', 'tdx.bad',
                           '--tee', 'tdx', '--no-tdx-sept-ve-disable')
    finally:
        cloud.refuse_keys.clear()
    assert code != 0 and 'Validation failed' in err
    methods = [m for m, _, _ in cloud.nova_requests]
    assert methods == ['POST', 'POST', 'DELETE']
    assert 'tdx.bad' not in [f['name'] for f in cloud.flavors.values()]
    code, _, err = osc('operator', 'flavor', 'create', 'x', '--tee', 'tdx',
                       '--snp-id-block')
    assert code != 0 and 'SEV-SNP options on a TDX flavor' in err


def test_flavor_create_with_a_generated_disk_key(osc, cloud):
    out = json.loads(osc.ok(
        'operator', 'flavor', 'create', 'tdx.disk-key', '--tee', 'tdx',
        '--disk-key', 'generate', '--keep-disk-key-on-delete', '-f', 'json'))
    specs = {'hw:mem_encryption': 'True',
             'hw:mem_encryption_model': 'intel-tdx',
             'buckypaper:attestation': 'required',
             'buckypaper:disk_key': 'generate',
             'buckypaper:disk_key_on_delete': 'keep'}
    assert out['properties'] == specs
    assert cloud.flavors[out['id']]['extra_specs'] == specs
    out = json.loads(osc.ok(
        'operator', 'flavor', 'create', 'snp.disk-key', '--tee', 'sev-snp',
        '--disk-key', 'generate', '-f', 'json'))
    assert out['properties']['buckypaper:disk_key'] == 'generate'
    assert 'buckypaper:disk_key_on_delete' not in out['properties']

    # Refused before any Nova call, as the Nova driver would refuse them.
    cloud.nova_requests.clear()
    for argv, message in (
            (['--keep-disk-key-on-delete'],
             'buckypaper:disk_key_on_delete needs '
             'buckypaper:disk_key=generate'),
            (['--property', 'buckypaper:disk_key_on_delete=keep'],
             'buckypaper:disk_key_on_delete needs '
             'buckypaper:disk_key=generate'),
            (['--disk-key', 'generate', '--attestation', 'disabled'],
             'buckypaper:disk_key needs buckypaper:attestation=required'),
            (['--disk-key', 'keep'], "invalid choice: 'keep'"),
            (['--property', 'hw:mem_encryption=False'],
             '--property may not change hw:mem_encryption of a '
             'confidential flavor'),
            (['--property', 'hw:mem_encryption_model=amd-sev'],
             '--property may not change hw:mem_encryption_model')):
        code, _, err = osc('operator', 'flavor', 'create', 'refused',
                           '--tee', 'sev-snp', *argv)
        assert code != 0 and message in err, (argv, err)
    assert cloud.nova_requests == []
    assert 'refused' not in [f['name'] for f in cloud.flavors.values()]


def test_no_transport_url_is_a_clear_error(cloud):
    env = {k: v for k, v in os.environ.items() if not k.startswith('OS_')}
    done = subprocess.run(
        [sys.executable, '-c', 'import sys; from openstackclient import '
         'shell; sys.exit(shell.main(sys.argv[1:]))']
        + cloud.auth_args('alice') + ['confidential', 'attestation', 'list'],
        env=env, capture_output=True, text=True, timeout=60, cwd=HOME)
    assert done.returncode != 0
    assert 'OS_NITRIDE_TRANSPORT_URL' in done.stderr


def test_key_bind_sets_the_policy_before_the_payload(osc, cloud):
    server = str(uuid.uuid4())
    secret = 'c6c4a7de-3f5c-4b3e-9a57-2d1b4a0e9f10'
    out = json.loads(osc.ok(
        'alice', 'key', 'bind', server, '--secret', secret, '--tee',
        'sev-snp', '--min-tcb', '{"snp": 22}', '--nitride-user', 'nitride',
        '-f', 'json'))
    url = '/key-manager/v1/secrets/' + secret
    assert out['secret'] == cloud.url + url
    metadata = {'buckypaper-instance': server, 'buckypaper-tee': 'sev-snp',
                'buckypaper-min-tcb': '{"snp": 22}'}
    calls = cloud.barbican_requests
    assert [(m, p) for m, p, _, _ in calls] == [
        ('PUT', url + '/metadata'), ('PUT', url + '/acl'), ('PUT', url)]
    assert calls[0][3] == {'metadata': metadata}
    assert calls[1][3] == {'read': {'users': ['nitride'],
                                    'project-access': True}}
    assert calls[2][2] == 'application/octet-stream'
    assert len(calls[2][3]) == 64 and calls[2][3] != bytes(64)
    assert 'key' not in out and calls[2][3].hex() not in json.dumps(out)


def test_key_bind_goes_to_the_catalogs_barbican_only(osc, cloud):
    """An href names a secret, not where to send the user's token."""
    secret = '5d2f0c1e-8a4b-4c6d-9e7f-1a2b3c4d5e6f'
    out = json.loads(osc.ok(
        'alice', 'key', 'bind', str(uuid.uuid4()), '--secret',
        'http://attacker.invalid:1/v1/secrets/' + secret, '-f', 'json'))
    assert out['secret'] == cloud.url + '/key-manager/v1/secrets/' + secret
    url = '/key-manager/v1/secrets/' + secret
    assert [(m, p) for m, p, _, _ in cloud.barbican_requests
            if secret in p] == [('PUT', url + '/metadata'), ('PUT', url)]
    code, _, err = osc('alice', 'key', 'bind', str(uuid.uuid4()),
                       '--secret', 'http://barbican/v1/secrets/not-an-id')
    assert code != 0 and 'not a Barbican secret href or ID' in err
