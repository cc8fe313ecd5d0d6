"""A real Barbican with the Vault, a real RabbitMQ and real Nitride.

The broker and Nitride come from the integration fixtures; Barbican's API
runs in its own process on loopback and reaches RabbitMQ through a
:class:`~tests.functional.tap.Tap` that records every frame.
"""

import os
import shutil
import typing
import urllib.parse

import pytest

from buckypaper_os.demo import barbican as barbican_mod
from tests.functional import tap as tap_mod
from tests.integration.conftest import broker  # noqa: F401
from tests.integration.conftest import Deployment

NITRIDE_USER = 'nitride'
SERVICE_PROJECT = 'service'


def through(url: str, port: int) -> str:
    """``url`` with its host and port replaced by loopback:``port``."""
    parts = urllib.parse.urlsplit(url)
    auth = parts.netloc.rsplit('@', 1)[0] + '@' if '@' in parts.netloc \
        else ''
    return urllib.parse.urlunsplit(parts._replace(
        netloc='%s127.0.0.1:%d' % (auth, port)))


class Vault:
    """The whole release path of one test module."""

    def __init__(self, root: str, broker_url: str, pki_dir: str,
                 debug: bool = True, tap: bool = True,
                 api_server: str = 'wsgiref',
                 barbican_server: str = 'wsgiref',
                 options: typing.Optional[dict] = None) -> None:
        self.root = root
        parts = urllib.parse.urlsplit(broker_url)
        # The benchmark goes without the tap: it is not on a real path.
        self.tap = tap_mod.Tap((parts.hostname, parts.port or 5672)) \
            if tap else None
        self.kek_files = [os.path.join(root, 'kek-1')]
        with open(self.kek_files[0], 'wb') as f:
            f.write(os.urandom(32))
        port = barbican_mod.free_port()
        headers = barbican_mod.identity(SERVICE_PROJECT, NITRIDE_USER,
                                        'reader')
        nitride_options = {'nitride_release': {
            'barbican_endpoint': 'http://127.0.0.1:%d' % port,
            'auth_type': 'none',
            'test_identity_headers': ','.join(
                '%s:%s' % kv for kv in headers.items()),
            'timeout': 30}}
        nitride_options.update(options or {})
        self.nitride = Deployment(
            os.path.join(root, 'nitride'), broker_url, pki_dir, workers=2,
            api=True, options=nitride_options, api_server=api_server)
        try:
            self.barbican = barbican_mod.Barbican(
                os.path.join(root, 'barbican'),
                through(broker_url, self.tap.port) if tap else broker_url,
                self.nitride.topic,
                self.kek_files, port, debug,
                decision_key_files=[self.nitride.decision_public_key_file],
                server=barbican_server)
            self.barbican.start()
            self.transport_key_id = self.barbican.create_transport_key()
        except BaseException:
            self.stop()
            raise

    def stop(self) -> None:
        barbican = getattr(self, 'barbican', None)
        if barbican is not None:
            barbican.stop()
        self.nitride.stop()
        if self.tap is not None:
            self.tap.stop()


@pytest.fixture(scope='module')
def vault(broker, tmp_path_factory, pki_dir):  # noqa: F811
    if shutil.which('buckypaper-nitride') is None:
        pytest.skip('buckypaper-nitride is not installed')
    root = str(tmp_path_factory.mktemp('vault'))
    os.makedirs(os.path.join(root, 'nitride'))
    os.makedirs(os.path.join(root, 'barbican'))
    deployment = Vault(root, broker, pki_dir)
    yield deployment
    deployment.stop()
