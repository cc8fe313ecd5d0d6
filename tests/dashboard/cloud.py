"""A whole small cloud on loopback for the dashboard's browser tests.

Fixtures (``conftest.py`` imports them where Horizon is installed).
Keystone (PyPI, SQLite, fernet tokens) served by a threaded WSGI server;
Nitride's API (``buckypaper-nitride-api``) behind keystonemiddleware with
two projects' instances registered through the RPC endpoint code and
attested over HTTP by simulated SEV-SNP guests; Horizon (PyPI) with the
plugin installed the documented way (the ``enabled/`` files symlinked
into ``openstack_dashboard/local/enabled``, a ``local_settings.py``);
headless Chromium driven by Selenium. Every server is a child process
stopped at the end of the module.
"""

import json
import os
import pathlib
import shutil
import signal
import socket
import subprocess
import sys
import time
import typing
import urllib.request
import uuid

import pytest

openstack_dashboard = pytest.importorskip('openstack_dashboard')

from keystoneauth1.identity import v3  # noqa: E402
from keystoneauth1 import session as ks_session  # noqa: E402
from keystoneclient.v3 import client as ks_client  # noqa: E402
from oslo_context import context as context_mod  # noqa: E402
from selenium import webdriver  # noqa: E402
from selenium.webdriver.chrome import service as chrome_service  # noqa

from buckypaper_os import conf as bp_conf  # noqa: E402
from buckypaper_os.dashboard import enabled as bp_enabled  # noqa: E402
from buckypaper_os.demo import nitride_keys  # noqa: E402
from buckypaper_os.nitride_service.api import guest_client  # noqa: E402
from buckypaper_os.nitride_service.api import tenant_client  # noqa: E402
from buckypaper_os.nitride_service.db import api as db_api  # noqa: E402
from buckypaper_os.nitride_service import engine as engine_mod  # noqa
from buckypaper_os.nitride_service import manager  # noqa: E402
from tests.unit.nitride import guests  # noqa: E402

ADMIN_PASSWORD = 'admin-' + uuid.uuid4().hex
CHROMIUM = os.environ.get('BUCKYPAPER_CHROMIUM', '/usr/bin/chromium')
CHROMEDRIVER = os.environ.get('BUCKYPAPER_CHROMEDRIVER',
                              '/usr/bin/chromedriver')
BIN = os.path.dirname(sys.executable)
ROOT = pathlib.Path(__file__).resolve().parents[2]
#: Seconds a server may take to answer its first request.
START_TIMEOUT = 120
#: Tenants of the test: name -> (project, password).
TENANTS = {'alice': 'alpha', 'bob': 'beta'}
BAD_MEASUREMENT = bytes.fromhex('66' * 48)
#: The firmware catalog Nitride shows to admins.
FIRMWARE = {'name': 'ovmf-amdsev-2026.08',
            'path': '/usr/share/ovmf/OVMF.amdsev.fd', 'sha384': '5c' * 48,
            'tees': ['sev-snp']}


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(('127.0.0.1', 0))
        return sock.getsockname()[1]


class Processes:
    """Child processes (servers) of the test, stopped in reverse order."""

    def __init__(self, root: pathlib.Path) -> None:
        self.root = root
        self.started: typing.List[typing.Tuple[str, subprocess.Popen]] = []

    def start(self, name: str, argv: typing.List[str], url: str,
              env: typing.Optional[dict] = None) -> None:
        """Start ``argv`` and wait until ``url`` answers over HTTP."""
        log = open(self.root / ('%s.log' % name), 'wb')
        process = subprocess.Popen(
            argv, stdout=log, stderr=subprocess.STDOUT, cwd=str(ROOT),
            env=dict(os.environ, **(env or {})))
        log.close()
        self.started.append((name, process))
        deadline = time.monotonic() + START_TIMEOUT
        while time.monotonic() < deadline:
            if process.poll() is not None:
                raise RuntimeError('%s exited: %s' % (name, self.log(name)))
            try:
                urllib.request.urlopen(url, timeout=5).close()
                return
            except urllib.error.HTTPError:
                return  # it answers
            except OSError:
                time.sleep(0.3)
        raise RuntimeError('%s did not answer: %s' % (name, self.log(name)))

    def log(self, name: str) -> str:
        return (self.root / ('%s.log' % name)).read_text(
            errors='replace')[-3000:]

    def stop(self) -> None:
        for _, process in reversed(self.started):
            if process.poll() is None:
                process.send_signal(signal.SIGTERM)
        for _, process in reversed(self.started):
            try:
                process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()


def run(argv: typing.List[str], **kwargs) -> None:
    subprocess.run(argv, check=True, stdout=subprocess.DEVNULL,
                   stderr=subprocess.PIPE, cwd=str(ROOT), **kwargs)


def start_keystone(root: pathlib.Path, processes: Processes) -> str:
    """Keystone on loopback; its v3 URL."""
    port = free_port()
    url = 'http://127.0.0.1:%d/v3' % port
    conf = root / 'keystone.conf'
    conf.write_text(
        '[database]\nconnection = sqlite:///%s\n'
        '[fernet_tokens]\nkey_repository = %s\n'
        '[fernet_receipts]\nkey_repository = %s\n'
        '[credential]\nkey_repository = %s\n'
        % (root / 'keystone.sqlite', root / 'fernet',
           root / 'fernet-receipts', root / 'credential'))
    manage = [os.path.join(BIN, 'keystone-manage'), '--config-file',
              str(conf)]
    user = ['--keystone-user', str(os.getuid()), '--keystone-group',
            str(os.getgid())]
    run(manage + ['db_sync'])
    run(manage + ['fernet_setup'] + user)
    run(manage + ['credential_setup'] + user)
    run(manage + ['bootstrap', '--bootstrap-password', ADMIN_PASSWORD,
                  '--bootstrap-public-url', url,
                  '--bootstrap-region-id', 'RegionOne'])
    processes.start('keystone', [
        sys.executable, '-m', 'tests.dashboard.wsgi_serve', str(port),
        'keystone.server.wsgi:initialize_public_application', '--factory'],
        url, env={'OS_KEYSTONE_CONFIG_FILES': str(conf)})
    return url


def keystone_admin(keystone_url: str) -> ks_client.Client:
    auth = v3.Password(auth_url=keystone_url, username='admin',
                       password=ADMIN_PASSWORD, project_name='admin',
                       user_domain_id='default',
                       project_domain_id='default')
    return ks_client.Client(session=ks_session.Session(auth=auth))


def make_tenants(keystone: ks_client.Client) -> typing.Dict[str, dict]:
    """Projects alpha and beta, each with a member; and the admin."""
    member = keystone.roles.find(name='member')
    tenants = {'admin': {'password': ADMIN_PASSWORD,
                         'project_id': keystone.projects.find(
                             name='admin').id}}
    for name, project_name in TENANTS.items():
        project = keystone.projects.create(project_name, 'default')
        password = uuid.uuid4().hex
        user = keystone.users.create(name, domain='default',
                                     password=password,
                                     default_project=project)
        keystone.roles.grant(member, user=user, project=project)
        tenants[name] = {'password': password, 'project_id': project.id}
    return tenants


def start_nitride(root: pathlib.Path, processes: Processes,
                  keystone_url: str, token_key_file: str,
                  pki_dir: str) -> typing.Tuple[str, pathlib.Path]:
    """Nitride's HTTP API with Keystone auth; its URL and config file."""
    port = free_port()
    catalog = root / 'firmware.json'
    catalog.write_text(json.dumps({'firmware': [FIRMWARE]}))
    conf = root / 'buckypaper.conf'
    conf.write_text(
        '[buckypaper_compute]\nfirmware_catalog = %s\n'
        '[database]\nconnection = sqlite:///%s\n'
        '[nitride]\ntoken_key_file = %s\nsimulated_tee_trust_dir = %s\n'
        '[nitride_api]\nbind_port = %d\n'
        '[keystone_authtoken]\nwww_authenticate_uri = %s\n'
        'auth_url = %s\nauth_type = password\nusername = admin\n'
        'password = %s\nproject_name = admin\nuser_domain_id = default\n'
        'project_domain_id = default\ninterface = public\n'
        % (catalog, root / 'nitride.sqlite', token_key_file, pki_dir, port,
           keystone_url, keystone_url, ADMIN_PASSWORD))
    run([os.path.join(BIN, 'buckypaper-nitride-manage'), '--config-file',
         str(conf), 'db', 'sync'])
    url = 'http://127.0.0.1:%d' % port
    processes.start('nitride-api', [
        os.path.join(BIN, 'buckypaper-nitride-api'), '--config-file',
        str(conf)], url + '/')
    return url, conf


def register_nitride(keystone: ks_client.Client, nitride_url: str) -> None:
    """Nitride in the catalog, where the dashboard finds it."""
    service = keystone.services.create(
        'nitride', tenant_client.SERVICE_TYPE,
        description='buckypaper-os attestation verifier')
    keystone.endpoints.create(service, nitride_url, interface='public',
                              region='RegionOne')


def register_and_attest(nitride: manager.NitrideManager, nitride_url: str,
                        pki, project_id: str, measurement: bytes) -> str:
    """An instance registered and attested; its UUID.

    Registered as Nova does (the RPC endpoint, role service), attested
    by a simulated guest over the guest API.
    """
    instance = str(uuid.uuid4())
    nova = context_mod.RequestContext(user_id='nova', project_id='service',
                                      roles=['service'])
    nitride.register_instance(
        nova, instance, project_id, 'sev-snp', [guests.MEASUREMENT.hex()],
        flavor_id='cvm.small')
    guest = guests.Guest(pki, instance, project_id, measurement=measurement)
    client = guest_client.GuestClient(nitride_url)
    challenge = client.challenge(instance)
    nonce = engine_mod.b64decode(challenge['nonce'], 'nonce', 64)
    evidence, certs = guest.evidence(nonce)
    try:
        client.attest(instance, challenge['nonce'], evidence, certs,
                      guest.public_key)
    except guest_client.GuestApiError:
        pass  # the contraindicated guest: recorded with its reasons
    return instance


def install_plugin(settings: str) -> None:
    """The documented install: enabled files and local_settings.py."""
    local = pathlib.Path(openstack_dashboard.__file__).parent / 'local'
    for source in pathlib.Path(bp_enabled.__file__).parent.glob('_9*.py'):
        link = local / 'enabled' / source.name
        if link.is_symlink() or link.exists():
            link.unlink()
        link.symlink_to(source)
    (local / 'local_settings.py').write_text(settings)


def start_horizon(root: pathlib.Path, processes: Processes,
                  keystone_url: str, nitride_conf: pathlib.Path) -> str:
    """Horizon with the plugin; its URL.

    It finds Nitride in the Keystone catalog (no BUCKYPAPER_NITRIDE_URL).
    """
    port = free_port()
    install_plugin(
        'DEBUG = False\n'
        'ALLOWED_HOSTS = ["127.0.0.1"]\n'
        'SECRET_KEY = %r\n'
        'OPENSTACK_KEYSTONE_URL = %r\n'
        'CACHES = {"default": {"BACKEND": '
        '"django.core.cache.backends.locmem.LocMemCache"}}\n'
        'SESSION_ENGINE = "django.contrib.sessions.backends.signed_cookies"\n'
        'COMPRESS_OFFLINE = False\n'
        'STATIC_ROOT = %r\n'
        'BUCKYPAPER_CONFIG_FILES = [%r]\n'
        % (uuid.uuid4().hex * 2, keystone_url, str(root / 'static'),
           str(nitride_conf)))
    url = 'http://127.0.0.1:%d' % port
    processes.start('horizon', [
        sys.executable, '-m', 'tests.dashboard.wsgi_serve', str(port),
        'openstack_dashboard.wsgi:application', '--static'],
        url + '/auth/login/',
        env={'DJANGO_SETTINGS_MODULE': 'openstack_dashboard.settings'})
    return url


class Cloud(typing.NamedTuple):
    horizon: str
    nitride: str
    tenants: typing.Dict[str, dict]
    instances: typing.Dict[str, str]
    processes: Processes


@pytest.fixture(scope='module')
def cloud(tmp_path_factory, pki, pki_dir) -> typing.Iterator[Cloud]:
    root = tmp_path_factory.mktemp('cloud')
    processes = Processes(root)
    try:
        keystone_url = start_keystone(root, processes)
        keystone = keystone_admin(keystone_url)
        tenants = make_tenants(keystone)
        nitride_url, nitride_conf = start_nitride(
            root, processes, keystone_url,
            nitride_keys.token_key(str(root))[0], pki_dir)
        bp_conf.CONF(['--config-file', str(nitride_conf)],
                     project='buckypaper')
        nitride = manager.NitrideManager(engine_mod.Engine(bp_conf.CONF))
        alpha = tenants['alice']['project_id']
        instances = {
            'affirming': register_and_attest(
                nitride, nitride_url, pki, alpha, guests.MEASUREMENT),
            'contraindicated': register_and_attest(
                nitride, nitride_url, pki, alpha, BAD_MEASUREMENT)}
        db_api.dispose_engine()
        register_nitride(keystone, nitride_url)
        horizon_url = start_horizon(root, processes, keystone_url,
                                    nitride_conf)
        yield Cloud(horizon_url, nitride_url, tenants, instances,
                    processes)
    finally:
        processes.stop()
        db_api.dispose_engine()
        bp_conf.CONF.reset()


@pytest.fixture(scope='module')
def downloads(tmp_path_factory) -> pathlib.Path:
    return tmp_path_factory.mktemp('downloads')


#: Where the screenshots of every page go (printed at the end of the run).
SCREENSHOTS = pathlib.Path(os.environ.get(
    'BUCKYPAPER_SCREENSHOTS', ROOT / '.tox' / 'dashboard' / 'screenshots'))


@pytest.fixture(scope='module')
def screenshots() -> pathlib.Path:
    if SCREENSHOTS.exists():
        shutil.rmtree(SCREENSHOTS)
    SCREENSHOTS.mkdir(parents=True)
    return SCREENSHOTS


@pytest.fixture
def browser(downloads) -> typing.Iterator[webdriver.Chrome]:
    """A fresh headless Chromium (no cookies: nobody is signed in)."""
    for path in (CHROMIUM, CHROMEDRIVER):
        if not os.access(path, os.X_OK):
            raise RuntimeError('%s is missing: apt-get install chromium '
                               'chromium-driver' % path)
    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for argument in ('--headless=new', '--no-sandbox', '--disable-gpu',
                     '--disable-dev-shm-usage', '--window-size=1280,1000'):
        options.add_argument(argument)
    options.add_experimental_option('prefs', {
        'download.default_directory': str(downloads),
        'download.prompt_for_download': False})
    driver = webdriver.Chrome(
        options=options, service=chrome_service.Service(CHROMEDRIVER))
    driver.set_page_load_timeout(120)
    try:
        yield driver
    finally:
        driver.quit()
