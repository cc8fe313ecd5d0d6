"""The SEV kernel hashes table QEMU writes for direct kernel boot.

``target/i386/sev.c``: with ``kernel-hashes=on`` QEMU writes, at the GPA
OVMF names in its SEV hash table block, a packed table::

    GUID header, u16 length,
    3 x (GUID entry, u16 length, SHA-256)  -- cmdline, initrd, kernel

padded with zeros to a multiple of 16 bytes. The command line is hashed
with its terminating NUL; a missing initrd hashes as empty. OVMF checks
the loaded kernel against it; the page holding it is measured as a normal
page.
"""

import dataclasses
import hashlib
import struct
import uuid

from buckypaper_os.attestation.firmware import FirmwareError

PAGE_SIZE = 4096
TABLE_GUID = uuid.UUID('9438d606-4f22-4cc9-b479-a793d411fd21')
KERNEL_GUID = uuid.UUID('4de79437-abd2-427f-b835-d5b172d2045b')
INITRD_GUID = uuid.UUID('44baf731-3a2f-4bd7-9af1-41e29169781d')
CMDLINE_GUID = uuid.UUID('97d02dd8-bd20-4c94-aa78-e7714d36ab2a')

_ENTRY = struct.Struct('<16sH32s')
_HEADER = struct.Struct('<16sH')
TABLE_SIZE = _HEADER.size + 3 * _ENTRY.size
PADDED_SIZE = (TABLE_SIZE + 15) & ~15


@dataclasses.dataclass(frozen=True)
class KernelHashes:
    """SHA-256s of a directly booted kernel, initrd and command line."""

    kernel: bytes
    initrd: bytes
    cmdline: bytes

    @classmethod
    def of(cls, kernel: bytes, initrd: bytes = b'',
           cmdline: str = '') -> 'KernelHashes':
        """Hash the kernel and initrd contents and the command line."""
        return cls(hashlib.sha256(kernel).digest(),
                   hashlib.sha256(initrd or b'').digest(),
                   hashlib.sha256((cmdline or '').encode() + b'\0').digest())

    @classmethod
    def from_files(cls, kernel: str, initrd: str = None,
                   cmdline: str = '') -> 'KernelHashes':
        """Hash a kernel file and an optional initrd file."""
        return cls(_file_sha256(kernel),
                   _file_sha256(initrd) if initrd else
                   hashlib.sha256(b'').digest(),
                   hashlib.sha256((cmdline or '').encode() + b'\0').digest())

    def table(self) -> bytes:
        """The padded table exactly as QEMU lays it out."""
        entries = b''.join(
            _ENTRY.pack(guid.bytes_le, _ENTRY.size, digest)
            for guid, digest in ((CMDLINE_GUID, self.cmdline),
                                 (INITRD_GUID, self.initrd),
                                 (KERNEL_GUID, self.kernel)))
        table = _HEADER.pack(TABLE_GUID.bytes_le, TABLE_SIZE) + entries
        return table + bytes(PADDED_SIZE - TABLE_SIZE)

    def page(self, offset: int) -> bytes:
        """The 4 KiB page holding the table at ``offset``."""
        if offset + PADDED_SIZE > PAGE_SIZE:
            raise FirmwareError('the kernel hashes table at page offset '
                                '%#x does not fit its page' % offset)
        return (bytes(offset) + self.table()
                + bytes(PAGE_SIZE - offset - PADDED_SIZE))


def _file_sha256(path: str) -> bytes:
    digest = hashlib.sha256()
    with open(path, 'rb') as f:
        for chunk in iter(lambda: f.read(1 << 20), b''):
            digest.update(chunk)
    return digest.digest()
