"""``buckypaper-os demo --json`` end to end, as a user runs it."""

import importlib.util
import json
import os
import shutil
import subprocess
import sys

import pytest

pytestmark = pytest.mark.skipif(
    importlib.util.find_spec('barbican') is None
    or not (shutil.which('cryptsetup') or os.path.exists('/sbin/cryptsetup')),
    reason='needs Barbican and cryptsetup')

EXPECTED = [
    ('start services', 'done'), ('register instance', 'done'),
    ('store disk key', 'done'), ('plain read of the key', 'refused'),
    ('first boot: attest, release, format', 'done'),
    ('second boot: attest, release, unlock', 'done'),
    ('tampered measurement', 'refused'), ('replayed nonce', 'refused'),
    ('another instance', 'refused')]


def test_demo_json():
    answer = subprocess.run([sys.executable, '-m', 'buckypaper_os.demo.cli',
                             'demo', '--json'], capture_output=True,
                            text=True, timeout=300)
    assert answer.returncode == 0, answer.stderr
    summary = json.loads(answer.stdout)
    assert summary['ok'] is True
    assert summary['transport'] == 'fake://'
    assert [(s['name'], s['outcome']) for s in summary['steps']] == EXPECTED
    assert all(s['ok'] for s in summary['steps'])
    by_name = {s['name']: s['detail'] for s in summary['steps']}
    assert 'measurement' in by_name['tampered measurement']
    assert 'nonce already used' in by_name['replayed nonce']
    assert 'another instance' in by_name['another instance']
    # Progress and the table went to stderr, the JSON alone to stdout.
    assert 'every step did what it should' in answer.stderr
    # The guest pins Nitride's keys and checks each release's receipt.
    assert answer.stderr.count('receipt signed by a pinned Nitride key') == 2


def test_demo_without_barbican(tmp_path):
    # A Python that cannot import barbican: a stub that hides it.
    (tmp_path / 'sitecustomize.py').write_text(
        'import sys\nsys.modules["barbican"] = None\n')
    env = dict(os.environ, PYTHONPATH=str(tmp_path))
    answer = subprocess.run([sys.executable, '-m', 'buckypaper_os.demo.cli',
                             'demo'], capture_output=True, text=True,
                            timeout=60, env=env)
    assert answer.returncode == 2
    assert "pip install 'buckypaper-os[barbican]'" in answer.stderr
