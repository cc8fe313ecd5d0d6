"""LUKS2 with the real cryptsetup on a file image (no device-mapper)."""

import os
import shutil

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
