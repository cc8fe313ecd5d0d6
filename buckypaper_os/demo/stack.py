"""The services of the demo, on loopback, in a temporary directory.

* Nitride: SQLite database, token key, the simulated TEE's trust anchors;
  its RPC worker runs inside the Barbican process (an in-process
  transport, ``fake://``, reaches it only there; with a broker URL it is an
  ordinary worker on the broker); its guest API runs in this process.
* Barbican: the real API (paste app) with the Vault as its store, in its
  own process (:mod:`buckypaper_os.demo.barbican`).
"""

import logging
import os
import subprocess
import sys
import threading
import typing
import uuid

from buckypaper_os import conf as bp_conf
from buckypaper_os.demo import barbican as barbican_mod
from buckypaper_os.demo import nitride_keys
from buckypaper_os.simulated_tee import pki as pki_mod

CONF = bp_conf.CONF
FAKE_TRANSPORT = 'fake://'
NITRIDE_USER = 'nitride'
SERVICE_PROJECT = 'service'


class Stack:
    """Nitride and Barbican for one demo run, under ``root``."""

    def __init__(self, root: str,
                 transport_url: typing.Optional[str] = None) -> None:
        self.root = root
        self.transport_url = transport_url or FAKE_TRANSPORT
        self.topic = 'nitride-demo-%s' % uuid.uuid4().hex[:8]
        self.pki_dir = os.path.join(root, 'simulated-pki')
        self.pki = pki_mod.SimulatedPki.open(self.pki_dir)
        self.barbican: typing.Optional[barbican_mod.Barbican] = None
        self.api_server = None
        self.api_url: typing.Optional[str] = None
        self.rpc = None
        self._engine = None

    @property
    def in_process(self) -> bool:
        return self.transport_url.startswith('fake:')

    def _nitride_config(self, barbican_port: int) -> str:
        key_file, _ = nitride_keys.token_key(self.root)
        decision_file, self.decision_public_key_file = (
            nitride_keys.decision_key(self.root))
        headers = barbican_mod.identity(SERVICE_PROJECT, NITRIDE_USER,
                                        'reader')
        options = {
            'DEFAULT': {'transport_url': self.transport_url},
            'database': {'connection': 'sqlite:///%s' % os.path.join(
                self.root, 'nitride.sqlite')},
            'nitride': {'token_key_file': key_file,
                        'decision_key_file': decision_file,
                        'topic': self.topic,
                        'simulated_tee_trust_dir': self.pki_dir,
                        'rpc_timeout': 20},
            'oslo_messaging_notifications': {'driver': 'log'},
            'nitride_release': {
                'barbican_endpoint': 'http://127.0.0.1:%d' % barbican_port,
                'auth_type': 'none',
                'test_identity_headers': ','.join(
                    '%s:%s' % kv for kv in headers.items()),
                'timeout': 30},
        }
        path = os.path.join(self.root, 'nitride.conf')
        with open(path, 'w') as f:
            for group, values in options.items():
                f.write('[%s]\n' % group)
                f.writelines('%s = %s\n' % kv for kv in values.items())
        return path

    def start(self) -> None:
        port = barbican_mod.free_port()
        config = self._nitride_config(port)
        subprocess.run([sys.executable, '-m',
                        'buckypaper_os.nitride_service.manage',
                        '--config-file', config, 'db', 'sync'], check=True,
                       capture_output=True, timeout=120)
        kek = os.path.join(self.root, 'kek-1')
        with open(kek, 'wb') as f:
            f.write(os.urandom(32))
        os.chmod(kek, 0o600)
        barbican_root = os.path.join(self.root, 'barbican')
        os.makedirs(barbican_root, exist_ok=True)
        self.barbican = barbican_mod.Barbican(
            barbican_root, self.transport_url, self.topic, [kek], port,
            debug=False, nitride_config=config,
            decision_key_files=[self.decision_public_key_file])
        self.barbican.start()
        self.barbican.create_transport_key()
        self._start_api(config)

    def _start_api(self, config: str) -> None:
        from buckypaper_os.nitride_service.api import app as app_mod
        from buckypaper_os.nitride_service.api import server
        from buckypaper_os.nitride_service import engine as engine_mod
        logging.basicConfig(filename=os.path.join(self.root, 'demo.log'),
                            level=logging.INFO)
        CONF(['--config-file', config], project='buckypaper',
             default_config_files=[])
        self._engine = engine_mod.Engine(CONF)
        self.api_server = server.make_server('127.0.0.1', 0,
                                             app_mod.make_app(self._engine,
                                                              CONF))
        threading.Thread(target=self.api_server.serve_forever,
                         daemon=True, name='nitride-api').start()
        self.api_url = 'http://127.0.0.1:%d' % self.api_server.server_port

    def register(self, instance_uuid: str, project_id: str, tee: str,
                 measurements: typing.Sequence[str]) -> dict:
        """What Nova's driver does at spawn: ``register_instance``.

        Over RPC with a broker; with ``fake://`` the worker lives in the
        Barbican process, so the engine records it on the shared database.
        """
        if self.in_process:
            return self._engine.register(instance_uuid, project_id, tee,
                                         measurements)
        from oslo_context import context as context_mod

        from buckypaper_os.nitride_service import rpc
        from buckypaper_os.nitride_service import rpcapi
        if self.rpc is None:
            CONF.set_override('topic', self.topic, 'nitride')
            self.rpc = rpcapi.NitrideAPI(
                CONF, rpc.get_transport(CONF, url=self.transport_url),
                timeout=30)
        service = context_mod.RequestContext(
            user_id='nova', project_id=SERVICE_PROJECT, roles=['service'])
        return self.rpc.register_instance(service, instance_uuid,
                                          project_id, tee, measurements)

    def stop(self) -> None:
        if self.api_server is not None:
            self.api_server.shutdown()
            self.api_server.server_close()
        if self.barbican is not None:
            self.barbican.stop()
