"""LUKS2 with the real cryptsetup on a file image (no device-mapper)."""

import json
import os
import shutil
import subprocess
import sys

import pytest

from buckypaper_os.enclaivelet import agent
from buckypaper_os.enclaivelet import luks

pytestmark = pytest.mark.skipif(
    not (shutil.which('cryptsetup') or os.path.exists('/sbin/cryptsetup')),
    reason='cryptsetup is not installed (apt-get install cryptsetup-bin)')


@pytest.fixture
def image(tmp_path):
    path = str(tmp_path / 'disk.img')
    with open(path, 'wb') as f:
        f.truncate(20 * 1024 * 1024)
    return path


def test_first_boot_formats_then_opens(image):
    key = bytearray(os.urandom(64))
    assert luks.unlock(image, key, 'x', check_only=True) == 'formatted'
    assert luks.is_luks(image)
    assert luks.unlock(image, key, 'x', check_only=True) == 'opened'
    with pytest.raises(luks.LuksError) as exc:
        luks.unlock(image, bytearray(os.urandom(64)), 'x', check_only=True)
    assert exc.value.wrong_key


def test_never_formats_a_volume_with_data(image):
    with open(image, 'r+b') as f:
        f.seek(4096)
        f.write(b'a filesystem, maybe')
    with pytest.raises(luks.LuksError, match='neither LUKS2 nor blank'):
        luks.unlock(image, bytearray(64), 'x', check_only=True)
    with pytest.raises(luks.LuksError, match='no volume'):
        luks.unlock(image + '-missing', bytearray(64), 'x')


def test_no_format_when_told(image):
    with pytest.raises(luks.LuksError, match='refusing to format'):
        luks.unlock(image, bytearray(64), 'x', check_only=True,
                    allow_format=False)


def test_wipe():
    key = bytearray(b'secret key bytes')
    agent.wipe(key)
    assert key == bytearray(16)


# Authenticated encryption (dm-integrity). Formatting it needs
# device-mapper, which a test machine or container usually lacks; what can
# be checked without it is the exact cryptsetup command line, through a
# wrapper named cryptsetup on PATH that records each call (arguments and
# the number of bytes on stdin, never the bytes) and runs the real
# cryptsetup for what needs no device-mapper: it formats with aes-xts
# instead of the integrity cipher (same key, same keyslot parameters) and
# checks a mapping open with --test-passphrase.

WRAPPER = '''#!%(python)s
import json, os, subprocess, sys
argv = sys.argv[1:]
key = b'' if sys.stdin is None or sys.stdin.closed else sys.stdin.buffer.read()
with open(os.environ['CRYPTSETUP_RECORD'], 'a') as f:
    f.write(json.dumps({'argv': argv, 'stdin': len(key)}) + '\\n')
run = list(argv)
if run[0] == 'luksFormat' and '--integrity' in run:
    at = run.index('--integrity')
    del run[at:at + 2]
    if '--integrity-no-wipe' in run:
        run.remove('--integrity-no-wipe')
    run[run.index('--cipher') + 1] = 'aes-xts-plain64'
    run[run.index('--key-size') + 1] = '512'
elif run[0] == 'open' and '--test-passphrase' not in run:
    run = run[:-1] + ['--test-passphrase']
sys.exit(subprocess.run([%(real)r] + run, input=key).returncode)
'''


@pytest.fixture
def recorded(tmp_path, monkeypatch):
    """The calls of luks to cryptsetup, through the recording wrapper."""
    bindir = tmp_path / 'bin'
    bindir.mkdir()
    wrapper = bindir / 'cryptsetup'
    wrapper.write_text(WRAPPER % {'python': sys.executable,
                                  'real': luks.cryptsetup()})
    wrapper.chmod(0o755)
    record = tmp_path / 'calls.jsonl'
    monkeypatch.setenv('PATH', '%s:%s' % (bindir, os.environ['PATH']))
    monkeypatch.setenv('CRYPTSETUP_RECORD', str(record))
    assert luks.cryptsetup() == str(wrapper)

    def calls():
        if not record.exists():
            return []
        return [json.loads(line) for line in record.read_text().splitlines()]
    return calls


KEYSLOT = ['--pbkdf', 'pbkdf2', '--pbkdf-force-iterations', '1000',
           '--hash', 'sha256', '--key-file', '-']


def test_hmac_integrity_command_lines(image, recorded):
    key = bytearray(os.urandom(64))
    assert luks.unlock(image, key, 'data', 'aes-xts-hmac',
                       check_only=True) == 'formatted'
    assert recorded() == [
        {'argv': ['isLuks', '--type', 'luks2', image], 'stdin': 0},
        {'argv': ['luksFormat', '--batch-mode', '--type', 'luks2',
                  '--cipher', 'aes-xts-plain64', '--key-size', '768']
         + KEYSLOT + ['--integrity', 'hmac-sha256', '--integrity-no-wipe',
                      image], 'stdin': 64},
        {'argv': ['open', '--type', 'luks2', '--test-passphrase',
                  '--key-file', '-', image], 'stdin': 64}]
    # The key went only to stdin; the wrapper's real format took it.
    assert key.hex() not in json.dumps(recorded())
    assert luks.is_luks(image)


def test_aead_integrity_on_a_real_boot_wipes_and_maps(image, recorded):
    key = bytearray(os.urandom(32))
    assert luks.unlock(image, key, 'data', 'aes-gcm') == 'formatted'
    assert luks.unlock(image, key, 'data', 'aes-gcm') == 'opened'
    argv = [call['argv'] for call in recorded()]
    # Not check_only: no --integrity-no-wipe, so dm-integrity writes every
    # tag at format time and the first reads of unwritten sectors pass.
    assert argv[1] == (['luksFormat', '--batch-mode', '--type', 'luks2',
                        '--cipher', 'aes-gcm-random', '--key-size', '256']
                       + KEYSLOT + ['--integrity', 'aead', image])
    assert argv[2] == ['open', '--type', 'luks2', '--key-file', '-', image,
                       'data']
    assert argv[3:] == [['isLuks', '--type', 'luks2', image], argv[2]]
    assert [call['stdin'] for call in recorded()] == [0, 32, 32, 0, 32]


def test_integrity_with_the_real_cryptsetup(image):
    """Formats where device-mapper exists; elsewhere fails closed."""
    key = bytearray(os.urandom(64))
    try:
        done = luks.unlock(image, key, 'x', 'aes-xts-hmac', check_only=True)
    except luks.LuksError as exc:
        # No device-mapper (containers, most CI): a clear error, no
        # fallback to a cipher without integrity, the volume still blank.
        assert 'device-mapper' in str(exc)
        assert 'aes-xts-hmac needs device-mapper with dm-integrity' in (
            str(exc))
        assert luks.is_blank(image) and not luks.is_luks(image)
    else:
        assert done == 'formatted'
        dump = subprocess.run([luks.cryptsetup(), 'luksDump', image],
                              capture_output=True, text=True, check=True)
        assert 'hmac(sha256)' in dump.stdout
