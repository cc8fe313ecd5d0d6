"""A real Barbican API process on loopback with the Vault as its store.

Used by ``buckypaper-os demo``, the functional tests and the benchmarks.
Barbican reads ``$HOME/.barbican/barbican.conf`` at import, so the process
gets a ``HOME`` of its own under ``root``. With ``nitride_config`` the
process also hosts a Nitride RPC worker (see :mod:`.barbican_server`), which
is how an in-process transport (``fake://``) reaches Nitride.
"""

import base64
import json
import os
import signal
import socket
import subprocess
import sys
import time
import typing
import urllib.error
import urllib.parse
import urllib.request

PASTE = """[composite:main]
use = egg:Paste#urlmap
/: barbican-version
/v1: barbican-api

[pipeline:barbican-version]
pipeline = cors request_id http_proxy_to_wsgi microversion versionapp

[pipeline:barbican-api]
pipeline = cors request_id http_proxy_to_wsgi context microversion apiapp

[app:apiapp]
paste.app_factory = barbican.api.app:create_main_app

[app:versionapp]
paste.app_factory = barbican.api.app:create_version_app

[filter:context]
paste.filter_factory = %(mw)s.context:ContextMiddleware.factory

[filter:microversion]
paste.filter_factory = %(mw)s.microversion:%(micro)s.factory

[filter:cors]
paste.filter_factory = oslo_middleware.cors:filter_factory
oslo_config_project = barbican

[filter:request_id]
paste.filter_factory = oslo_middleware.request_id:RequestId.factory

[filter:http_proxy_to_wsgi]
paste.filter_factory = oslo_middleware:HTTPProxyToWSGI.factory
""" % {'mw': 'barbican.api.middleware', 'micro': 'MicroversionMiddleware'}

#: Servers of Barbican's API: a thread per request (:mod:`.barbican_server`),
#: or uWSGI (the ``pyuwsgi`` wheel) as Barbican is deployed in production.
SERVERS = ('wsgiref', 'uwsgi')
#: uWSGI's workers: processes, and threads in each.
UWSGI_PROCESSES, UWSGI_THREADS = 2, 4

# As in barbican_relay, not imported from it: that would register Nitride's
# options in the global configuration of whatever imports this module
# (Heat's tests), where they clash.
VAULT_PLUGIN = 'buckypaper_os.barbican_plugin.store.VaultStore'
#: The Accept header of python-barbicanclient's payload reads.
CLIENT_ACCEPT = 'application/octet-stream'
#: The Accept header of Nitride's relay (``barbican_relay.SEALED_ACCEPT``).
RELEASE_ACCEPT = '*/*'
TRANSPORT_KEY = base64.b64encode(b'buckypaper-vault-ticket-v1').decode()


def free_port() -> int:
    with socket.socket() as s:
        s.bind(('127.0.0.1', 0))
        return s.getsockname()[1]


def identity(project: str, user: str,
             roles: str = 'member,reader') -> dict:
    """Keystone-style identity headers (what auth_token would set)."""
    return {'X-Identity-Status': 'Confirmed', 'X-Project-Id': project,
            'X-User-Id': user, 'X-Roles': roles}


class HTTPError(Exception):
    def __init__(self, status: int, body: bytes) -> None:
        self.status = status
        self.body = body
        super().__init__('%d %r' % (status, body[:300]))


class Barbican:
    """Barbican's API process on 127.0.0.1 with the Vault as its store."""

    def __init__(self, root: str, transport_url: str, topic: str,
                 kek_files: typing.Sequence[str],
                 port: typing.Optional[int] = None,
                 debug: bool = True, multiple_stores: bool = False,
                 nitride_config: typing.Optional[str] = None,
                 decision_key_files: typing.Sequence[str] = (),
                 server: str = 'wsgiref') -> None:
        if server not in SERVERS:
            raise ValueError('no such Barbican server: %s' % server)
        if server == 'uwsgi' and nitride_config:
            raise ValueError('only the wsgiref server hosts a Nitride worker')
        self.root = root
        #: ``wsgiref`` (a thread per request) or ``uwsgi`` (production).
        self.server = server
        #: Nitride's public decision keys, whose decisions the Vault takes.
        self.decision_key_files = list(decision_key_files)
        self.nitride_config = nitride_config
        self.debug = debug
        self.multiple_stores = multiple_stores
        self.port = port or free_port()
        self.url = 'http://127.0.0.1:%d' % self.port
        self.db = os.path.join(root, 'barbican.sqlite')
        self.vault_db = os.path.join(root, 'vault.sqlite')
        self.log = os.path.join(root, 'barbican.log')
        self.home = os.path.join(root, 'home')
        os.makedirs(os.path.join(self.home, '.barbican'), exist_ok=True)
        self.config = os.path.join(self.home, '.barbican', 'barbican.conf')
        self.transport_url = transport_url
        self.topic = topic
        self.write_config(kek_files)
        self.paste = os.path.join(root, 'barbican-api-paste.ini')
        with open(self.paste, 'w') as f:
            f.write(PASTE)
        self.process = None

    def write_config(self, kek_files: typing.Sequence[str]) -> None:
        self.kek_files = list(kek_files)
        with open(self.config, 'w') as f:
            f.write('[DEFAULT]\nhost_href = %s\ndb_auto_create = True\n'
                    'debug = %s\nlog_file = %s\n'
                    '[database]\nconnection = sqlite:///%s\n'
                    '%s'
                    '[buckypaper_vault]\nconnection = sqlite:///%s\n'
                    'kek_files = %s\ntransport_url = %s\n'
                    'nitride_topic = %s\nrpc_timeout = 5\n'
                    'nitride_decision_key_files = %s\n'
                    % (self.url, self.debug, self.log, self.db,
                       self._stores(), self.vault_db,
                       ','.join(self.kek_files), self.transport_url,
                       self.topic, ','.join(self.decision_key_files)))

    def _stores(self) -> str:
        """The [secretstore] sections: the Vault alone or as a backend."""
        if not self.multiple_stores:
            return ('[secretstore]\nenabled_secretstore_plugins = '
                    'buckypaper_vault\n')
        kek = base64.b64encode(b'k' * 32).decode()
        return ('[secretstore]\nenable_multiple_secret_stores = True\n'
                'stores_lookup_suffix = software, vault\n'
                '[secretstore:software]\nsecret_store_plugin = '
                'store_crypto\ncrypto_plugin = simple_crypto\n'
                'global_default = True\n'
                '[secretstore:vault]\nsecret_store_plugin = '
                'buckypaper_vault\n'
                '[simple_crypto_plugin]\nkek = %s\n' % kek)

    def command(self) -> typing.List[str]:
        """The command line of the API server (see :data:`SERVERS`)."""
        if self.server == 'uwsgi':
            return [os.path.join(os.path.dirname(sys.executable), 'uwsgi'),
                    '--http-socket', '127.0.0.1:%d' % self.port, '--module',
                    'buckypaper_os.demo.barbican_wsgi:application',
                    '--master', '--need-app', '--die-on-term', '--lazy-apps',
                    # Request lines carry tickets in their query strings:
                    # room for them (doc/vault.md), and no request log or
                    # write-error line of uWSGI's (Barbican's own INFO line
                    # still shows them, see doc/vault.md).
                    '--buffer-size', '65535', '--disable-logging',
                    '--ignore-sigpipe', '--ignore-write-errors',
                    '--disable-write-exception',
                    # uWSGI closes every connection after its answer: say so,
                    # or pooling clients (Nitride's relay) reuse closed ones.
                    '--add-header', 'Connection: close',
                    '--processes', str(UWSGI_PROCESSES),
                    '--threads', str(UWSGI_THREADS)]
        command = [sys.executable, '-m',
                   'buckypaper_os.demo.barbican_server', self.paste,
                   str(self.port)]
        if self.nitride_config:
            command += ['--nitride-config', self.nitride_config]
        return command

    def start(self, timeout: float = 90) -> None:
        env = dict(os.environ, HOME=self.home, PYTHONUNBUFFERED='1',
                   BUCKYPAPER_BARBICAN_PASTE=self.paste)
        out = open(os.path.join(self.root, 'barbican-stdout.log'), 'a')
        # Its own process group: uWSGI's workers stop with it.
        self.process = subprocess.Popen(self.command(), cwd=self.root,
                                        env=env, stdout=out,
                                        stderr=subprocess.STDOUT,
                                        start_new_session=True)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError('Barbican exited: %s' % self.logs())
            try:
                self.request('GET', '/v1/secrets', identity('ready', 'ready'))
                return
            except (OSError, HTTPError):
                time.sleep(0.2)
        raise TimeoutError('Barbican did not start: %s' % self.logs())

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                pass
        if self.process is not None:
            try:
                os.killpg(self.process.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass  # the whole group has gone
            self.process.wait()
        self.process = None

    def logs(self) -> str:
        text = []
        for name in ('barbican-stdout.log', 'barbican.log'):
            path = os.path.join(self.root, name)
            if os.path.exists(path):
                with open(path, errors='replace') as f:
                    text.append(f.read())
        return '\n'.join(text)

    def request(self, method: str, path: str, headers: dict,
                body: typing.Optional[bytes] = None,
                content_type: typing.Optional[str] = None,
                accept: str = 'application/json') -> bytes:
        headers = dict(headers, Accept=accept)
        if content_type:
            headers['Content-Type'] = content_type
        request = urllib.request.Request(self.url + path, data=body,
                                         headers=headers, method=method)
        try:
            with urllib.request.urlopen(request, timeout=30) as answer:
                return answer.read()
        except urllib.error.HTTPError as exc:
            raise HTTPError(exc.code, exc.read()) from None

    def json(self, method: str, path: str, headers: dict,
             body: typing.Optional[dict] = None):
        data = self.request(method, path, headers,
                            None if body is None else json.dumps(
                                body).encode(), 'application/json')
        return json.loads(data) if data else None

    # Tenant and operator steps

    def create_transport_key(self) -> str:
        """The Vault's transport key (a marker), created as an admin."""
        answer = self.json('POST', '/v1/transport_keys', identity(
            'admin', 'admin', 'admin,key-manager:service-admin'),
            {'plugin_name': VAULT_PLUGIN, 'transport_key': TRANSPORT_KEY})
        return answer['transport_key_ref'].rsplit('/', 1)[-1]

    def store(self, headers: dict, payload: bytes,
              policy: typing.Optional[dict] = None,
              acl_users: typing.Sequence[str] = (),
              content_type: str = 'application/octet-stream') -> str:
        """Create a secret (metadata, then payload); its id."""
        ref = self.json('POST', '/v1/secrets', headers,
                        {'name': 'disk key', 'secret_type': 'symmetric',
                         'algorithm': 'aes', 'bit_length': 512,
                         'mode': 'xts'})['secret_ref']
        secret = ref.rsplit('/', 1)[-1]
        if policy:
            self.json('PUT', '/v1/secrets/%s/metadata' % secret, headers,
                      {'metadata': policy})
        if acl_users:
            self.json('PUT', '/v1/secrets/%s/acl' % secret, headers,
                      {'read': {'users': list(acl_users),
                                'project-access': True}})
        self.request('PUT', '/v1/secrets/%s' % secret, headers, payload,
                     content_type)
        return secret

    def payload(self, secret: str, headers: dict,
                ticket: typing.Optional[str] = None,
                transport_key_id: typing.Optional[str] = None,
                accept: typing.Optional[str] = None) -> bytes:
        """A payload read; with a ticket, as Nitride's relay makes it.

        ``accept`` defaults to the relay's with a ticket, else the
        client's.
        """
        path = '/v1/secrets/%s/payload' % secret
        if ticket is not None:
            path += '?' + urllib.parse.urlencode({
                'trans_wrapped_session_key': ticket,
                'transport_key_id': transport_key_id})
        if accept is None:
            accept = RELEASE_ACCEPT if ticket is not None else CLIENT_ACCEPT
        return self.request('GET', path, headers, accept=accept)
