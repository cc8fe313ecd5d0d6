"""A disk key bound by :func:`buckypaper_os.disk_key.bind`, then released.

What ``openstack confidential key bind`` and the Heat resource
``OS::Buckypaper::DiskKeyBinding`` do, against the real Barbican with the
Vault, Nitride on RabbitMQ and the enclaivelet's command line with a
simulated configfs-tsm: the key is released to the bound server only
after the binding, and no more after :func:`~buckypaper_os.disk_key.revoke`.
The tenant's keystoneauth session uses the noauth plugin with the
identity headers Keystone's auth_token middleware would set.
"""

import os
import subprocess
import uuid

from keystoneauth1 import noauth
from keystoneauth1 import session as ks_session
import pytest

from buckypaper_os import binding
from buckypaper_os import disk_key
from buckypaper_os.simulated_tee import attester as attester_mod
from buckypaper_os.simulated_tee import tsm as tsm_mod
from tests.functional import conftest
from tests.functional import test_enclaivelet as enclaivelet
from tests.functional import test_vault_release as flow
from tests.unit.nitride import guests

pytestmark = enclaivelet.pytestmark


@pytest.fixture
def bound(vault, tmp_path):
    """A registered instance, an empty secret, a config and an image."""
    instance = str(uuid.uuid4())
    vault.nitride.api.register_instance(
        flow.SERVICE, instance, flow.PROJECT, 'sev-snp',
        [guests.MEASUREMENT.hex()])
    session = ks_session.Session(
        auth=noauth.NoAuth(endpoint=vault.barbican.url),
        additional_headers=flow.TENANT)
    url = session.post(vault.barbican.url + '/v1/secrets', json={
        'name': 'disk key', 'secret_type': 'symmetric', 'algorithm': 'aes',
        'bit_length': 512, 'mode': 'xts'}).json()['secret_ref']
    image = tmp_path / 'disk.img'
    with open(image, 'wb') as f:
        f.truncate(20 * 1024 * 1024)
    config = tmp_path / 'enclaivelet.conf'
    config.write_text(
        '[enclaivelet]\ninstance_uuid = %s\nnitride_url = %s\n'
        'secret = %s\ndevice = %s\ntsm_root = %s\nsev_device = %s\n'
        'check_only = true\nretries = 1\nbackoff = 0.2\nnitride_keys = %s\n'
        % (instance, vault.nitride.api_url, url, image, tmp_path / 'tsm',
           tmp_path / 'no-sev-guest', enclaivelet.write_jwks(vault,
                                                             tmp_path)))
    guest = (instance, str(image), str(config), str(tmp_path / 'tsm'))
    return session, url, guest


def test_released_only_after_the_binding_and_until_revoked(pki, bound):
    session, url, guest = bound
    before = enclaivelet.run(pki, guest)
    assert before.returncode == 5, before
    assert 'release failed: 403' in before.stderr
    assert 'retrying' in before.stdout  # it may be bound in a moment

    metadata = disk_key.bind(session, url, guest[0], 'sev-snp',
                             nitride_user=conftest.NITRIDE_USER)
    assert metadata == {'buckypaper-instance': guest[0],
                        'buckypaper-tee': 'sev-snp'}
    first = enclaivelet.run(pki, guest)
    assert first.returncode == 0, first.stderr
    assert 'formatted' in first.stdout

    assert disk_key.revoke(session, url) is True
    after = enclaivelet.run(pki, guest)
    assert after.returncode == 5, after
    assert 'release failed' in after.stderr


def test_guest_waits_for_a_binding_after_its_boot(pki, bound):
    """Heat's order: the server boots, then its key is bound."""
    session, url, guest = bound
    instance, image, config, tsm_root = guest
    attester = attester_mod.SimulatedAttester(
        pki, measurement=guests.MEASUREMENT,
        host_data=binding.host_data(instance, flow.PROJECT))
    with tsm_mod.SimulatedTsm(tsm_root, attester):
        process = subprocess.Popen(
            enclaivelet.ENCLAIVELET + ['--config', config, '--retries', '6',
                                       '--backoff', '0.5'],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
            env=dict(os.environ, PYTHONUNBUFFERED='1'))
        try:
            seen = []
            for line in process.stdout:
                seen.append(line)
                if 'retrying' in line:
                    break
            assert 'release: 403' in ''.join(seen), seen
            disk_key.bind(session, url, instance, 'sev-snp',
                          nitride_user=conftest.NITRIDE_USER)
            out, err = process.communicate(timeout=120)
        finally:
            if process.poll() is None:
                process.kill()
                process.communicate()
    assert process.returncode == 0, err
    assert 'formatted' in out


def test_another_server_gets_nothing(pki, vault, bound):
    session, url, guest = bound
    disk_key.bind(session, url, str(uuid.uuid4()),
                  nitride_user=conftest.NITRIDE_USER)
    answer = enclaivelet.run(pki, guest)
    assert answer.returncode == 5, answer
    assert 'release failed' in answer.stderr
