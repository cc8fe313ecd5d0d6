"""Real services for the integration tests: RabbitMQ and Nitride workers.

The broker is ``$BUCKYPAPER_TRANSPORT_URL`` when set (``.ci/run`` starts
one); otherwise a throw-away broker is started with ``tools/rabbitmq.sh``
on loopback, or the tests skip when ``rabbitmq-server`` is not installed.
"""

import contextlib
import os
import re
import shutil
import signal
import subprocess
import sys
import time
import typing
import urllib.request
import uuid

from oslo_config import cfg
from oslo_context import context as context_mod
import pytest

from buckypaper_os import conf as bp_conf
from buckypaper_os.demo import barbican as barbican_mod
from buckypaper_os.demo import nitride_keys
from buckypaper_os.nitride_service.db import api as db_api
from buckypaper_os.nitride_service import engine as engine_mod
from buckypaper_os.nitride_service import rpc
from buckypaper_os.nitride_service import rpcapi
from tests import vectors

CONF = bp_conf.CONF
RABBITMQ = os.path.join(vectors.ROOT, 'tools', 'rabbitmq.sh')
ADMIN = context_mod.RequestContext(user_id='admin', project_id='admin',
                                   roles=['admin', 'service'])


def start_broker(state: str, port: int) -> str:
    """Start a broker on loopback; its transport URL."""
    out = subprocess.run([RABBITMQ, 'start', state, str(port)],
                         check=True, capture_output=True, text=True,
                         timeout=180)
    return out.stdout.strip().splitlines()[-1]


def stop_broker(state: str) -> None:
    subprocess.run([RABBITMQ, 'stop', state], check=False, timeout=120)


def percentile(values: typing.Sequence[float], fraction: float) -> float:
    """The ``fraction`` quantile of ``values`` (nearest rank)."""
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(fraction * len(ordered)))]


@contextlib.contextmanager
def any_broker(root: str, port: int) -> typing.Iterator[str]:
    """``$BUCKYPAPER_TRANSPORT_URL``, or a broker started (and stopped)."""
    url = os.environ.get('BUCKYPAPER_TRANSPORT_URL')
    if url:
        yield url
        return
    state = os.path.join(root, 'rabbitmq')
    try:
        yield start_broker(state, port)
    finally:
        stop_broker(state)


#: Servers of the guest API: Nitride's development server, or uWSGI (the
#: ``pyuwsgi`` wheel) as doc/nitride-api.md advises for production.
API_SERVERS = ('wsgiref', 'uwsgi')
#: uWSGI's workers: processes, and threads in each.
UWSGI_PROCESSES, UWSGI_THREADS = 2, 4


def start_api(config: str, log: str, server: str = 'wsgiref',
              timeout: float = 60) -> typing.Tuple[subprocess.Popen, str]:
    """Start Nitride's guest API on loopback; its process and base URL.

    The process leads its own process group, which holds uWSGI's workers
    too (see :func:`stop_group`). uWSGI reads the configuration from the
    environment on the first request, as in production; the API is ready
    when it has answered one.
    """
    if server == 'uwsgi':
        url = 'http://127.0.0.1:%d' % barbican_mod.free_port()
        command = [
            os.path.join(os.path.dirname(sys.executable), 'uwsgi'),
            '--http-socket', url[len('http://'):], '--module',
            'buckypaper_os.nitride_service.api.wsgi:application',
            '--master', '--need-app', '--die-on-term',
            '--processes', str(UWSGI_PROCESSES),
            '--threads', str(UWSGI_THREADS)]
        env = dict(os.environ,
                   OS_BUCKYPAPER_CONFIG_DIR=os.path.dirname(config),
                   OS_BUCKYPAPER_CONFIG_FILES=os.path.basename(config))
    else:
        url, env = None, None
        command = ['buckypaper-nitride-api', '--config-file', config,
                   '--log-file', log]
    with open(log, 'w') as out:
        process = subprocess.Popen(command, stdout=out,
                                   stderr=subprocess.STDOUT, env=env,
                                   start_new_session=True)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            with open(log) as f:
                raise RuntimeError('the guest API exited: %s' % f.read())
        if url is None:
            with open(log) as f:
                found = re.search(r'listening on 127\.0\.0\.1 port (\d+)',
                                  f.read())
            if found:
                return process, 'http://127.0.0.1:%s' % found.group(1)
        else:
            try:
                with urllib.request.urlopen(url + '/v1/jwks', timeout=5):
                    return process, url
            except OSError:
                pass  # not listening yet
        time.sleep(0.1)
    stop_group(process)
    raise TimeoutError('the guest API did not start (%s)' % server)


def stop_group(process: subprocess.Popen, timeout: float = 30) -> None:
    """Stop ``process`` and what is left of its process group."""
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            pass
    try:
        os.killpg(process.pid, signal.SIGKILL)
    except ProcessLookupError:
        pass  # the whole group has gone
    process.wait()


@contextlib.contextmanager
def extra_api(deployment: 'Deployment', server: str = 'wsgiref'
              ) -> typing.Iterator[str]:
    """Another guest API on the deployment's configuration; its URL."""
    process, url = start_api(deployment.config, os.path.join(
        deployment.root, 'api-%s.log' % server), server)
    try:
        yield url
    finally:
        stop_group(process)


@pytest.fixture(scope='session')
def broker(tmp_path_factory) -> typing.Iterator[str]:
    url = os.environ.get('BUCKYPAPER_TRANSPORT_URL')
    if url:
        yield url
        return
    if not os.path.exists('/usr/lib/rabbitmq/bin/rabbitmq-server'):
        pytest.skip('rabbitmq-server is not installed and '
                    'BUCKYPAPER_TRANSPORT_URL is not set')
    state = str(tmp_path_factory.mktemp('rabbitmq'))
    url = start_broker(state, 5682)
    yield url
    stop_broker(state)


class Deployment:
    """Nitride workers sharing one database and topic, and a client."""

    def __init__(self, root: str, url: str, pki_dir: str, workers: int,
                 topic: typing.Optional[str] = None,
                 api: bool = False,
                 options: typing.Optional[dict] = None,
                 api_server: str = 'wsgiref') -> None:
        self.root = root
        self.api_server = api_server
        self.url = url
        self.topic = topic or 'nitride-%s' % uuid.uuid4().hex[:12]
        self.db = os.path.join(root, 'nitride.sqlite')
        key_file, _ = nitride_keys.token_key(root)
        decision_file, self.decision_public_key_file = (
            nitride_keys.decision_key(root))
        self.options = {
            'DEFAULT': {'transport_url': url},
            'database': {'connection': 'sqlite:///%s' % self.db},
            'nitride': {'token_key_file': key_file,
                        'decision_key_file': decision_file,
                        'topic': self.topic,
                        'simulated_tee_trust_dir': pki_dir,
                        'rpc_timeout': 20},
            'oslo_messaging_notifications': {'driver': 'log'},
            'nitride_api': {'bind_host': '127.0.0.1', 'bind_port': 0},
        }
        for group, values in (options or {}).items():
            self.options.setdefault(group, {}).update(values)
        self.config = os.path.join(root, 'nitride.conf')
        with open(self.config, 'w') as f:
            for group, values in self.options.items():
                f.write('[%s]\n' % group)
                f.writelines('%s = %s\n' % kv for kv in values.items())
        subprocess.run(['buckypaper-nitride-manage', '--config-file',
                        self.config, 'db', 'sync'], check=True, timeout=60)
        self.processes = []
        self.api_process: typing.Optional[subprocess.Popen] = None
        self.workers = workers
        self.transport = None
        try:
            for index in range(workers):
                self.processes.append(self.start_worker(index))
            self.api_url = self._start_api() if api else None
            self.conf = self._client_conf()
            self.transport = rpc.get_transport(self.conf, url=url)
            self.api = rpcapi.NitrideAPI(self.conf, self.transport,
                                         timeout=20)
            self.wait_ready()
        except BaseException:
            self.stop()
            raise

    def start_worker(self, index: int,
                     env: typing.Optional[dict] = None
                     ) -> subprocess.Popen:
        """Start RPC worker ``index`` (again); its log is appended to."""
        name = os.path.join(self.root, 'worker-%d.log' % index)
        with open(name, 'a') as log:
            return subprocess.Popen(
                ['buckypaper-nitride', '--config-file', self.config,
                 '--log-file', name], stdout=log, stderr=subprocess.STDOUT,
                env=None if env is None else dict(os.environ, **env))

    def _start_api(self) -> str:
        """Start the guest API (see :func:`start_api`); its base URL."""
        process, url = start_api(self.config, os.path.join(
            self.root, 'api.log'), self.api_server)
        self.processes.append(process)
        self.api_process = process
        return url

    def _client_conf(self) -> cfg.ConfigOpts:
        """The global CONF, aimed at this deployment's topic.

        oslo.messaging registers some of its options only on the global
        CONF, so clients cannot use a private one. Deployments that live
        at the same time share a topic (on their own brokers).
        """
        CONF([], project='buckypaper', default_config_files=[])
        CONF.set_override('topic', self.topic, 'nitride')
        return CONF

    @contextlib.contextmanager
    def guest_engine(self) -> typing.Iterator[engine_mod.Engine]:
        """The engine the guest API process runs, on this database."""
        CONF([], project='buckypaper', default_config_files=[])
        overrides = [(group, name, value)
                     for group in ('database', 'nitride')
                     for name, value in self.options[group].items()]
        for group, name, value in overrides:
            CONF.set_override(name, value, group=group)
        db_api.dispose_engine()
        try:
            yield engine_mod.Engine(CONF)
        finally:
            db_api.dispose_engine()
            for group, name, _ in overrides:
                CONF.clear_override(name, group=group)

    def wait_ready(self, timeout: float = 90) -> None:
        """Wait until a worker answers on the topic."""
        deadline = time.monotonic() + timeout
        quick = rpcapi.NitrideAPI(self.conf, self.transport, timeout=3)
        while True:
            try:
                quick.get_policy(ADMIN, 'project', 'ready-check')
                return
            except Exception:  # not up yet: MessagingTimeout and friends
                if time.monotonic() > deadline:
                    raise
                for process in self.processes:
                    assert process.poll() is None, self.logs()

    def logs(self) -> str:
        """Every log of the deployment's processes, concatenated."""
        text = []
        for name in sorted(os.listdir(self.root)):
            if name.endswith('.log'):
                with open(os.path.join(self.root, name)) as f:
                    text.append(f.read())
        return '\n'.join(text)

    def stop(self) -> None:
        for process in self.processes:
            if process.poll() is None:
                process.send_signal(signal.SIGTERM)
        for process in self.processes:
            try:
                process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                process.kill()
        if self.api_process is not None:
            stop_group(self.api_process)
        if self.transport is not None:
            self.transport.cleanup()


@pytest.fixture(scope='module')
def deployment(broker, tmp_path_factory, pki_dir):
    if shutil.which('buckypaper-nitride') is None:
        pytest.skip('buckypaper-nitride is not installed')
    root = str(tmp_path_factory.mktemp('nitride'))
    nitride = Deployment(root, broker, pki_dir, workers=2, api=True)
    yield nitride
    nitride.stop()
