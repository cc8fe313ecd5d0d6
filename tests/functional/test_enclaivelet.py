"""The enclaivelet, driven only through its command line.

A real Nitride (workers on RabbitMQ, guest API) and a real Barbican with
the Vault; the guest's TEE is a simulated configfs-tsm tree served by a
thread of this test. "Unlock" is ``cryptsetup open --test-passphrase`` on
a file image (``--check-only``): it needs no device-mapper.
"""

import json
import os
import shutil
import subprocess
import sys
import urllib.request
import uuid

from cryptography.hazmat.primitives.asymmetric import ec
import pytest

from buckypaper_os import binding
from buckypaper_os.demo import barbican as barbican_mod
from buckypaper_os.nitride_service import jwk
from buckypaper_os.simulated_tee import attester as attester_mod
from buckypaper_os.simulated_tee import tsm as tsm_mod
from tests.functional import conftest
from tests.functional import test_vault_release as flow
from tests.unit.nitride import guests

pytestmark = pytest.mark.skipif(
    not (shutil.which('cryptsetup') or os.path.exists('/sbin/cryptsetup')),
    reason='cryptsetup is not installed (apt-get install cryptsetup-bin)')
ENCLAIVELET = [sys.executable, '-m', 'buckypaper_os.enclaivelet.cli']


def write_jwks(vault, directory) -> str:
    """Nitride's published keys in a file, as baked into an image."""
    path = os.path.join(directory, 'nitride-jwks.json')
    with urllib.request.urlopen(vault.nitride.api_url + '/v1/jwks',
                                timeout=20) as answer:
        with open(path, 'wb') as f:
            f.write(answer.read())
    return path


@pytest.fixture
def guest(vault, pki, tmp_path):
    """A registered instance, its bound disk key, a config and an image."""
    instance = str(uuid.uuid4())
    vault.nitride.api.register_instance(
        flow.SERVICE, instance, flow.PROJECT, 'sev-snp',
        [guests.MEASUREMENT.hex()])
    secret = vault.barbican.store(
        flow.TENANT, os.urandom(64), {'buckypaper-instance': instance,
                                      'buckypaper-tee': 'sev-snp'},
        acl_users=[conftest.NITRIDE_USER])
    image = tmp_path / 'disk.img'
    with open(image, 'wb') as f:
        f.truncate(20 * 1024 * 1024)
    jwks = write_jwks(vault, tmp_path)
    config = tmp_path / 'enclaivelet.conf'
    config.write_text(
        '[enclaivelet]\ninstance_uuid = %s\nnitride_url = %s\n'
        'secret = %s/v1/secrets/%s\ndevice = %s\ntsm_root = %s\n'
        'sev_device = %s\ncheck_only = true\nretries = 2\nbackoff = 0.2\n'
        'nitride_keys = %s\n'
        % (instance, vault.nitride.api_url, vault.barbican.url, secret,
           image, tmp_path / 'tsm', tmp_path / 'no-sev-guest', jwks))
    return instance, str(image), str(config), str(tmp_path / 'tsm')


def run(pki, guest, measurement=guests.MEASUREMENT, *extra):
    instance, _, config, tsm_root = guest
    attester = attester_mod.SimulatedAttester(
        pki, measurement=measurement,
        host_data=binding.host_data(instance, flow.PROJECT))
    with tsm_mod.SimulatedTsm(tsm_root, attester):
        return subprocess.run(ENCLAIVELET + ['--config', config] +
                              list(extra), capture_output=True, text=True,
                              timeout=120)


def leftovers(tmp):
    kept = ('disk.img', 'enclaivelet.conf', 'nitride-jwks.json')
    return [os.path.join(d, n) for d, _, names in os.walk(tmp)
            for n in names if n not in kept]


def test_unlocks_then_reopens(pki, guest):
    first = run(pki, guest)
    assert first.returncode == 0, first.stderr
    assert 'formatted' in first.stdout
    second = run(pki, guest, guests.MEASUREMENT, '--once')
    assert second.returncode == 0, second.stderr
    assert 'opened' in second.stdout
    check = subprocess.run(['cryptsetup', 'isLuks', '--type', 'luks2',
                            guest[1]])
    assert check.returncode == 0


def test_tampered_measurement_stays_locked(pki, guest):
    answer = run(pki, guest, b'\xa5' * 48)
    assert answer.returncode == 4, answer
    assert 'attest failed' in answer.stderr
    assert 'measurement' in answer.stderr
    assert 'the volume stays locked' in answer.stderr
    with open(guest[1], 'rb') as f:  # never formatted
        assert not f.read(1024 * 1024).strip(b'\0')
    assert leftovers(os.path.dirname(guest[1])) == []


def test_nitride_unreachable(pki, guest, tmp_path):
    port = barbican_mod.free_port()
    answer = run(pki, guest, guests.MEASUREMENT, '--nitride-url',
                 'http://127.0.0.1:%d' % port, '--retries', '1',
                 '--backoff', '0.1')
    assert answer.returncode == 3, answer
    assert 'retrying in 0.1 s' in answer.stdout
    assert 'unreachable' in answer.stderr


def _pinned(guest, jwks) -> list:
    """The --nitride-keys option naming a file that holds ``jwks``."""
    path = os.path.join(os.path.dirname(guest[1]), 'nitride-jwks.json')
    with open(path, 'w') as f:
        json.dump(jwks, f)
    return ['--nitride-keys', path]


def test_pinned_nitride_keys_vouch_for_the_key(pki, guest):
    answer = run(pki, guest)
    assert answer.returncode == 0, answer.stderr
    assert 'receipt signed by a pinned Nitride key' in answer.stdout
    assert 'formatted' in answer.stdout


def test_no_pinned_keys_touches_nothing(pki, guest):
    """Without Nitride's keys the host could choose the key: refused."""
    config = guest[2]
    with open(config) as f:
        text = f.read()
    with open(config, 'w') as f:
        f.write(text[:text.index('nitride_keys')])
    answer = run(pki, guest)
    assert answer.returncode == 2, answer
    assert 'nitride_keys is not set' in answer.stderr
    with open(guest[1], 'rb') as f:
        assert not f.read(1024 * 1024).strip(b'\0')


def test_key_not_vouched_for_by_the_pinned_keys(pki, guest):
    """As if a host answered at nitride_url: nothing is formatted."""
    other = jwk.to_jwks([ec.generate_private_key(ec.SECP384R1())
                         .public_key()])
    answer = run(pki, guest, guests.MEASUREMENT, *_pinned(guest, other))
    assert answer.returncode == 5, answer
    assert 'Nitride does not vouch for the released key' in answer.stderr
    with open(guest[1], 'rb') as f:
        assert not f.read(1024 * 1024).strip(b'\0')
