"""The devstack plugin: shellcheck, and a dry run with stubbed devstack.

The dry run sources ``devstack/settings`` and ``devstack/plugin.sh`` for
each phase in bash, with devstack's functions (iniset, run_process,
setup_develop, ...) replaced by stubs that record their calls, and the
buckypaper console scripts by recording stubs; it then checks the
configuration the plugin would write and the processes it would start.
"""

import hashlib
import os
import shlex
import shutil
import subprocess

from oslo_config import cfg
import pytest

from buckypaper_os.conf import vault as vault_conf
from buckypaper_os.nitride_service.api import tenant_client
from buckypaper_os.nitride_service import barbican_relay

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(
    os.path.abspath(__file__)))))
DEVSTACK = os.path.join(ROOT, 'devstack')

STUBS = r'''
record() { { printf '%q ' "$@"; echo; } >> "$CALLS"; }
for f in iniset run_process stop_process setup_develop recreate_database \
         echo_summary get_or_add_user_project_role get_or_create_service \
         get_or_create_endpoint configure_keystone_authtoken_middleware \
         restart_apache_server; do
    eval "$f() { record $f \"\$@\"; }"
done
sudo() {
    record sudo "$@"
    if [[ "$1" == tee ]]; then cat > "$2"; fi
    if [[ "$1" == install ]]; then mkdir -p "${@: -1}"; fi
}
openstack() {
    record openstack "$@"
    if [[ -n "${OS_NITRIDE_TRANSPORT_URL:-}" ]]; then
        record openstack-environment "$OS_NITRIDE_TRANSPORT_URL"
    fi
    # "flavor show" finds no flavor: the plugin creates each one.
    [[ " $* " != *" flavor show "* ]]
}
is_service_enabled() {
    local s
    for s in "$@"; do [[ " $ENABLED " == *" $s "* ]] && return 0; done
    return 1
}
trueorfalse() {
    local v=${!2:-$1}
    if [[ "$v" == True ]]; then echo True; else echo False; fi
}
get_python_exec_prefix() { echo /opt/stack/bin; }
get_transport_url() { echo rabbit://stackrabbit:pw@127.0.0.1:5672/; }
database_connection_url() { echo "mysql+pymysql://root:pw@127.0.0.1/$1"; }
openssl() { record openssl "$@"; }
get_or_create_user() { record get_or_create_user "$@"; echo u-$1-id; }
die() { record die "$@"; exit 1; }
'''


def _dry_run(tmp_path, phases, enabled, env=None):
    calls = tmp_path / 'calls'
    bindir = tmp_path / 'bin'
    bindir.mkdir()
    for name in ('buckypaper-nitride-manage', 'buckypaper-simulated-tee',
                 'buckypaper-vault-manage', 'buckypaper-vault-rotate-kek',
                 'python3'):
        script = bindir / name
        script.write_text('#!/bin/sh\necho %s "$@" >> "$CALLS"\n' % name)
        script.chmod(0o755)
    firmware = tmp_path / 'OVMF.amdsev.fd'
    firmware.write_bytes(b'firmware')
    variables = {
        'CALLS': str(calls), 'ENABLED': ' '.join(enabled),
        'DEST': '/opt/stack', 'DATA_DIR': str(tmp_path / 'data'),
        'STACK_USER': 'stack', 'SERVICE_HOST': '192.0.2.10',
        'SERVICE_PROTOCOL': 'http', 'ENABLE_DEBUG_LOG_LEVEL': 'True',
        'NOVA_CONF': '/etc/nova/nova.conf',
        'NOVA_CPU_CONF': '/etc/nova/nova-cpu.conf',
        'LIBVIRT_GROUP': 'libvirt', 'BUCKYPAPER_BIN_DIR': str(bindir),
        'SERVICE_PASSWORD': 'service-pw', 'SERVICE_DOMAIN_NAME': 'Default',
        'SERVICE_PROJECT_NAME': 'service',
        'KEYSTONE_SERVICE_URI': 'http://192.0.2.10/identity',
        'REGION_NAME': 'RegionOne', 'PYTHON': str(bindir / 'python3'),
        'HORIZON_DIR': str(tmp_path / 'horizon'),
        'BUCKYPAPER_CONF_DIR': str(tmp_path / 'etc'),
        'BUCKYPAPER_FIRMWARE_CATALOG': str(tmp_path / 'catalog.yaml'),
        'BUCKYPAPER_SNP_FIRMWARE': str(firmware),
        'BUCKYPAPER_TDX_FIRMWARE': str(tmp_path / 'absent.fd'),
    }
    variables.update(env or {})
    script = [STUBS]
    script += ['%s=%s' % (k, shlex.quote(v)) for k, v in variables.items()]
    script.append('source %s' % shlex.quote(os.path.join(DEVSTACK,
                                                         'settings')))
    for phase in phases:
        script.append('source %s %s' % (
            shlex.quote(os.path.join(DEVSTACK, 'plugin.sh')), phase))
    subprocess.run(['bash', '-euc', '\n'.join(script)], check=True,
                   timeout=60, env={'PATH': os.environ['PATH'],
                                    'CALLS': str(calls)})
    if not calls.exists():
        return []
    return [shlex.split(line) for line in calls.read_text().splitlines()]


def _ini(calls):
    """{(file, section, key): value} of every iniset call."""
    return {tuple(c[1:4]): c[4] for c in calls if c[0] == 'iniset'}


ALL = ['nitride', 'nitride-api', 'barbican', 'nova', 'n-cpu', 'n-api',
       'keystone', 'heat']
PHASES = ['stack install', 'stack post-config', 'stack extra']


@pytest.fixture
def full(tmp_path):
    return _dry_run(tmp_path, PHASES, ALL), tmp_path


def test_shellcheck_is_clean():
    if shutil.which('shellcheck') is None:
        pytest.skip('shellcheck is not installed')
    done = subprocess.run(
        ['shellcheck', os.path.join(DEVSTACK, 'plugin.sh'),
         os.path.join(DEVSTACK, 'settings')],
        capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stdout + done.stderr


def test_installs_with_the_cli_extra(full):
    calls, _ = full
    assert ['setup_develop', '/opt/stack/buckypaper-os', 'cli'] in calls


def test_nitride_configuration(full):
    calls, tmp_path = full
    conf = str(tmp_path / 'etc' / 'buckypaper.conf')
    ini = _ini(calls)
    assert ini[(conf, 'DEFAULT', 'transport_url')] == (
        'rabbit://stackrabbit:pw@127.0.0.1:5672/')
    assert ini[(conf, 'database', 'connection')] == (
        'mysql+pymysql://root:pw@127.0.0.1/nitride')
    assert ini[(conf, 'nitride', 'topic')] == 'nitride'
    assert ini[(conf, 'nitride', 'token_key_file')] == str(
        tmp_path / 'etc' / 'nitride-token.pem')
    assert ini[(conf, 'nitride_api', 'bind_port')] == '9797'
    assert ini[(conf, 'nitride_release', 'barbican_endpoint')] == (
        'http://192.0.2.10/key-manager')
    assert (conf, 'nitride', 'simulated_tee_trust_dir') not in ini
    assert ini[(conf, 'nitride', 'nova_notification_topics')] == (
        'versioned_notifications')
    assert ['openssl', 'genpkey', '-algorithm', 'EC', '-pkeyopt',
            'ec_paramgen_curve:P-384', '-out',
            str(tmp_path / 'etc' / 'nitride-token.pem')] in calls
    decision = str(tmp_path / 'etc' / 'nitride-decision.pem')
    assert ini[(conf, 'nitride', 'decision_key_file')] == decision
    assert ['openssl', 'genpkey', '-algorithm', 'ED25519', '-out',
            decision] in calls
    assert ['openssl', 'pkey', '-in', decision, '-pubout', '-out',
            str(tmp_path / 'etc' / 'nitride-decision.pub.pem')] in calls
    assert ['recreate_database', 'nitride'] in calls
    assert ['buckypaper-nitride-manage', '--config-file', conf, 'db',
            'sync'] in calls


def test_nitride_service_user_for_the_relay(full, monkeypatch):
    calls, tmp_path = full
    # oslo.config shares a registered OptGroup's options among the
    # ConfigOpts it is registered on: the password plugin's options
    # loaded below (auth_url required) would reach Nitride's global CONF
    # of later tests through the module's group.
    monkeypatch.setattr(vault_conf, 'RELEASE_GROUP', cfg.OptGroup(
        vault_conf.RELEASE_GROUP.name))
    conf = str(tmp_path / 'etc' / 'buckypaper.conf')
    assert ['get_or_create_user', 'nitride', 'service-pw', 'Default'] in (
        calls)
    assert ['get_or_add_user_project_role', 'service', 'u-nitride-id',
            'service', 'Default', 'Default'] in calls
    auth = {key[2]: value for key, value in _ini(calls).items()
            if key[:2] == (conf, 'nitride_release')}
    assert auth == {
        'barbican_endpoint': 'http://192.0.2.10/key-manager',
        'auth_type': 'password',
        'auth_url': 'http://192.0.2.10/identity',
        'username': 'nitride', 'password': 'service-pw',
        'project_name': 'service', 'user_domain_name': 'Default',
        'project_domain_name': 'Default'}
    # The relay loads exactly these as its keystoneauth session.
    ini = tmp_path / 'relay.conf'
    ini.write_text('[nitride_release]\n' + ''.join(
        '%s = %s\n' % kv for kv in auth.items()))
    conf = cfg.ConfigOpts()
    vault_conf.register_opts(conf)
    conf(['--config-file', str(ini)], default_config_files=[])
    session = barbican_relay.load_session(conf)
    assert session is not None
    loaded = session.auth.get_cache_id_elements()
    assert {k: loaded[k] for k in auth if k in loaded} == {
        k: v for k, v in auth.items()
        if k not in ('barbican_endpoint', 'auth_type')}
    # Published for tenants' key bindings.
    assert (tmp_path / 'etc' / 'nitride-user-id').read_text() == (
        'u-nitride-id\n')


def test_nitride_api_behind_auth_token_in_the_catalog(full):
    calls, tmp_path = full
    conf = str(tmp_path / 'etc' / 'buckypaper.conf')
    # devstack's helper writes [keystone_authtoken] for the service user
    # that create_nitride_accounts made before.
    assert ['configure_keystone_authtoken_middleware', conf, 'nitride'] in (
        calls)
    assert calls.index(['get_or_create_user', 'nitride', 'service-pw',
                        'Default']) < calls.index(
        ['configure_keystone_authtoken_middleware', conf, 'nitride'])
    # Registered as the service type the dashboard looks up.
    services = [c for c in calls if c[0] == 'get_or_create_service']
    assert [c[1:3] for c in services] == [
        ['nitride', tenant_client.SERVICE_TYPE]]
    assert [c for c in calls if c[0] == 'get_or_create_endpoint'] == [
        ['get_or_create_endpoint', tenant_client.SERVICE_TYPE, 'RegionOne',
         'http://192.0.2.10:9797']]
    # Horizon is not enabled here: nothing done for it.
    assert ['restart_apache_server'] not in calls
    assert not (tmp_path / 'horizon').exists()


def test_horizon_gets_the_dashboard(tmp_path):
    horizon = tmp_path / 'horizon'
    enabled = horizon / 'openstack_dashboard' / 'local' / 'enabled'
    enabled.mkdir(parents=True)
    calls = _dry_run(tmp_path, PHASES, ALL + ['horizon'],
                     {'BUCKYPAPER_DIR': ROOT})
    source = os.path.join(ROOT, 'buckypaper_os', 'dashboard', 'enabled')
    expected = sorted(name for name in os.listdir(source)
                      if name.startswith('_9') and name.endswith('.py'))
    assert len(expected) >= 7
    assert sorted(os.listdir(enabled)) == expected
    for name in expected:
        assert os.readlink(enabled / name) == os.path.join(source, name)
    # Static files collected and compressed again, then Apache restarted.
    manage = str(horizon / 'manage.py')
    collect = calls.index(['python3', manage, 'collectstatic', '--noinput'])
    compress = calls.index(['python3', manage, 'compress', '--force'])
    assert collect < compress < calls.index(['restart_apache_server'])


def test_horizon_without_enabled_files_fails(tmp_path):
    (tmp_path / 'horizon').mkdir()
    with pytest.raises(subprocess.CalledProcessError):
        _dry_run(tmp_path, PHASES, ALL + ['horizon'],
                 {'BUCKYPAPER_DASHBOARD_ENABLED_DIR': str(tmp_path / 'none')})
    calls = [line.split() for line in
             (tmp_path / 'calls').read_text().splitlines()]
    assert calls[-1][0] == 'die'
    assert ['restart_apache_server'] not in calls


def test_heat_loads_the_disk_key_binding(full):
    calls, tmp_path = full
    plugins = tmp_path / 'data' / 'heat' / 'plugins'
    ini = _ini(calls)
    assert ini[('/etc/heat/heat.conf', 'DEFAULT', 'plugin_dirs')] == str(
        plugins)
    # tests/heat/test_disk_key_binding.py loads this layout in Heat.
    assert os.readlink(plugins / 'buckypaper') == (
        '/opt/stack/buckypaper-os/buckypaper_os/heat_plugin')


def test_barbican_uses_the_vault(full):
    calls, tmp_path = full
    ini = _ini(calls)
    barbican = '/etc/barbican/barbican.conf'
    assert ini[(barbican, 'secretstore', 'enabled_secretstore_plugins')] \
        == 'buckypaper_vault'
    assert ini[(barbican, 'buckypaper_vault', 'kek_files')] == (
        '/etc/barbican/vault-kek-1')
    assert ini[(barbican, 'buckypaper_vault', 'transport_url')] == (
        'rabbit://stackrabbit:pw@127.0.0.1:5672/')
    assert ini[(barbican, 'buckypaper_vault', 'nitride_topic')] == 'nitride'
    # The Vault takes only decisions signed by Nitride's decision key.
    assert ini[(barbican, 'buckypaper_vault', 'nitride_decision_key_files')] \
        == str(tmp_path / 'etc' / 'nitride-decision.pub.pem')
    assert ['buckypaper-vault-rotate-kek', '--generate',
            '/etc/barbican/vault-kek-1'] in calls
    # In the extra phase, after Barbican's plugin made its database.
    assert ['buckypaper-vault-manage', '--config-file', barbican, 'db',
            'sync'] in calls


def test_nova_runs_our_driver(full):
    calls, tmp_path = full
    ini = _ini(calls)
    for conf in ('/etc/nova/nova.conf', '/etc/nova/nova-cpu.conf'):
        assert ini[(conf, 'DEFAULT', 'compute_driver')] == (
            'buckypaper.BuckypaperLibvirtDriver')
        assert ini[(conf, 'buckypaper_compute', 'firmware_catalog')] == (
            str(tmp_path / 'catalog.yaml'))
    nova = '/etc/nova/nova.conf'
    assert ini[(nova, 'notifications', 'notification_format')] == 'both'
    assert ini[(nova, 'oslo_messaging_notifications', 'driver')] == (
        'messagingv2')
    catalog = (tmp_path / 'catalog.yaml').read_text()
    # Only the firmware that exists is listed, with its SHA-384.
    assert 'name: ovmf-amdsev' in catalog and 'inteltdx' not in catalog
    assert 'sha384: %s' % hashlib.sha384(b'firmware').hexdigest() in catalog
    # What the driver needs for flavors that generate disk keys.
    compute = {key[2]: value for key, value in ini.items()
               if key[:2] == ('/etc/nova/nova-cpu.conf', 'buckypaper_compute')}
    assert compute == {
        'firmware_catalog': str(tmp_path / 'catalog.yaml'),
        'nitride_guest_url': 'http://192.0.2.10:9797',
        'nitride_user_id': 'u-nitride-id'}
    assert calls.index(['stop_process', 'n-cpu']) < calls.index(
        ['run_process', 'n-cpu', '%s/buckypaper-nova-compute --config-file '
         '/etc/nova/nova-cpu.conf' % (tmp_path / 'bin'), 'libvirt'])


def test_starts_nitride_and_creates_flavors(full):
    calls, tmp_path = full
    conf = str(tmp_path / 'etc' / 'buckypaper.conf')
    bindir = tmp_path / 'bin'
    assert ['run_process', 'nitride', '%s/buckypaper-nitride --config-file '
            '%s' % (bindir, conf)] in calls
    assert ['run_process', 'nitride-api', '%s/buckypaper-nitride-api '
            '--config-file %s' % (bindir, conf)] in calls
    created = [c[c.index('create') + 1:] for c in calls
               if c[0] == 'openstack' and 'confidential' in c]
    assert created == [
        ['cvm.snp.small', '--tee', 'sev-snp', '--vcpus', '2', '--ram',
         '2048', '--disk', '20'],
        ['cvm.tdx.small', '--tee', 'tdx', '--vcpus', '2', '--ram', '2048',
         '--disk', '20'],
        ['cvm.snp.disk-key', '--tee', 'sev-snp', '--vcpus', '2', '--ram',
         '2048', '--disk', '20', '--disk-key', 'generate'],
        ['cvm.tdx.disk-key', '--tee', 'tdx', '--vcpus', '2', '--ram', '2048',
         '--disk', '20', '--disk-key', 'generate']]
    # The broker's URL (and password) reaches them in the environment,
    # never in argv.
    assert [c for c in calls if c[0] == 'openstack-environment'] == [
        ['openstack-environment',
         'rabbit://stackrabbit:pw@127.0.0.1:5672/']] * 4
    assert not [c for c in calls
                if c[0] == 'openstack' and any('pw@' in a for a in c)]


def test_without_barbican_no_disk_key_flavors(tmp_path):
    calls = _dry_run(tmp_path, PHASES, ['nitride', 'nitride-api', 'nova',
                                        'n-cpu', 'keystone'])
    created = [c[c.index('create') + 1] for c in calls
               if c[0] == 'openstack' and 'confidential' in c]
    assert created == ['cvm.snp.small', 'cvm.tdx.small']
    # No Nitride service user to name: the driver refuses such flavors.
    ini = _ini(calls)
    compute = '/etc/nova/nova-cpu.conf', 'buckypaper_compute'
    assert ini[compute + ('nitride_guest_url',)] == 'http://192.0.2.10:9797'
    assert compute + ('nitride_user_id',) not in ini
    # The API still validates tokens; the relay has no Barbican to call.
    conf = str(tmp_path / 'etc' / 'buckypaper.conf')
    assert ['configure_keystone_authtoken_middleware', conf, 'nitride'] in (
        calls)
    assert not [key for key in ini if key[:2] == (conf, 'nitride_release')]


def test_simulated_tee_and_without_nova_or_barbican(tmp_path):
    calls = _dry_run(tmp_path, PHASES + ['unstack'],
                     ['nitride', 'nitride-api'],
                     {'BUCKYPAPER_SIMULATED_TEE': 'True'})
    ini = _ini(calls)
    pki = str(tmp_path / 'data' / 'buckypaper' / 'simulated-tee')
    conf = str(tmp_path / 'etc' / 'buckypaper.conf')
    assert ini[(conf, 'nitride', 'simulated_tee_trust_dir')] == pki
    assert ['buckypaper-simulated-tee', 'init', pki] in calls
    files = {key[0] for key in ini}
    assert files == {conf}
    assert not [c for c in calls if c[0] in (
        'openstack', 'configure_keystone_authtoken_middleware',
        'get_or_create_service', 'get_or_create_endpoint')]
    assert calls[-2:] == [['stop_process', 'nitride-api'],
                          ['stop_process', 'nitride']]


def test_does_nothing_when_not_enabled(tmp_path):
    assert _dry_run(tmp_path, PHASES, ['nova', 'barbican']) == []
