"""The LUKS2 volume: format on first boot, open on every boot.

``cryptsetup`` gets the key on its standard input (``--key-file -``),
never on its command line or in a file. The released key is the LUKS2
passphrase of one keyslot; it is 64 random bytes, so the keyslot uses
PBKDF2 with the minimum iterations (a memory-hard KDF adds nothing to a
full-entropy key and would slow every boot).

``check_only`` replaces the device-mapper open with ``cryptsetup open
--test-passphrase`` (the key opens the keyslot; no mapping is created):
with ``aes-xts`` that works on a file image without root or
device-mapper, which is what the tests and the demo do. The integrity
ciphers need dm-integrity even to format (cryptsetup writes the integrity
superblock through a temporary device-mapper device); ``check_only`` only
skips their initial wipe, and without device-mapper they fail with a
:class:`LuksError` and leave the volume blank.
"""

import os
import shutil
import subprocess
import typing

CIPHERS = {
    # name: (cipher, key size in bits, integrity)
    'aes-xts': ('aes-xts-plain64', 512, None),
    'aes-xts-hmac': ('aes-xts-plain64', 768, 'hmac-sha256'),
    'aes-gcm': ('aes-gcm-random', 256, 'aead'),
}
DEFAULT_CIPHER = 'aes-xts'
#: Bytes at the start of a volume that must all be zero to format it.
BLANK_PROBE = 1024 * 1024


class LuksError(Exception):
    """cryptsetup is missing, failed, or the volume is not ours to format."""

    def __init__(self, message: str, wrong_key: bool = False) -> None:
        self.wrong_key = wrong_key
        super().__init__(message)


def cryptsetup() -> str:
    path = shutil.which('cryptsetup') or next(
        (p for p in ('/usr/sbin/cryptsetup', '/sbin/cryptsetup')
         if os.path.exists(p)), None)
    if path is None:
        raise LuksError('cryptsetup not found (apt-get install '
                        'cryptsetup-bin)')
    return path


def _run(args: typing.Sequence[str],
         key: typing.Optional[bytearray] = None,
         timeout: float = 300) -> subprocess.CompletedProcess:
    """Run cryptsetup; ``key`` goes to its stdin without another copy."""
    command = [cryptsetup()] + list(args)
    process = subprocess.Popen(
        command, stdin=subprocess.PIPE if key is not None
        else subprocess.DEVNULL, stdout=subprocess.PIPE,
        stderr=subprocess.PIPE)
    if key is not None:
        try:
            process.stdin.write(memoryview(key))
        except BrokenPipeError:
            pass
        process.stdin.close()
        process.stdin = None  # communicate() must not flush it
    try:
        out, err = process.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        process.kill()
        process.communicate()
        raise LuksError('cryptsetup %s timed out' % args[0]) from None
    return subprocess.CompletedProcess(command, process.returncode,
                                       out.decode(errors='replace'),
                                       err.decode(errors='replace'))


def is_luks(device: str) -> bool:
    return _run(['isLuks', '--type', 'luks2', device]).returncode == 0


def is_blank(device: str) -> bool:
    """Whether the start of ``device`` is all zeros (never formatted)."""
    with open(device, 'rb') as f:
        head = f.read(BLANK_PROBE)
    return not head.strip(b'\0')


def format_volume(device: str, key: bytearray,
                  cipher: str = DEFAULT_CIPHER,
                  check_only: bool = False) -> None:
    """Make ``device`` a LUKS2 volume whose keyslot ``key`` opens."""
    name, key_size, integrity = CIPHERS[cipher]
    args = ['luksFormat', '--batch-mode', '--type', 'luks2',
            '--cipher', name, '--key-size', str(key_size),
            '--pbkdf', 'pbkdf2', '--pbkdf-force-iterations', '1000',
            '--hash', 'sha256', '--key-file', '-']
    if integrity:
        args += ['--integrity', integrity]
        if check_only:
            args.append('--integrity-no-wipe')
    result = _run(args + [device], key)
    if result.returncode:
        hint = (' (%s needs device-mapper with dm-integrity, also to '
                'format)' % cipher) if integrity else ''
        raise LuksError('luksFormat %s failed: %s%s'
                        % (device, result.stderr.strip(), hint))


def open_volume(device: str, key: bytearray, mapping: str,
                check_only: bool = False) -> None:
    """Open ``device`` as /dev/mapper/``mapping`` (or only test the key)."""
    if check_only:
        args = ['open', '--type', 'luks2', '--test-passphrase',
                '--key-file', '-', device]
    else:
        args = ['open', '--type', 'luks2', '--key-file', '-', device,
                mapping]
    result = _run(args, key)
    if result.returncode:
        # cryptsetup exits 2 on "No key available with this passphrase".
        raise LuksError('cannot open %s: %s' % (device,
                                                result.stderr.strip()),
                        wrong_key=result.returncode == 2)


def unlock(device: str, key: bytearray, mapping: str,
           cipher: str = DEFAULT_CIPHER, check_only: bool = False,
           allow_format: bool = True) -> str:
    """Format a blank volume, then open it; ``formatted`` or ``opened``."""
    if not os.path.exists(device):
        raise LuksError('no volume at %s' % device)
    if is_luks(device):
        open_volume(device, key, mapping, check_only)
        return 'opened'
    if not (allow_format and is_blank(device)):
        raise LuksError('%s is neither LUKS2 nor blank: refusing to format '
                        'it' % device)
    format_volume(device, key, cipher, check_only)
    open_volume(device, key, mapping, check_only)
    return 'formatted'
