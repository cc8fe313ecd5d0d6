"""Firmware images for the measurement tests: real and synthetic.

The real images are those ``tools/fetch-firmware.sh`` obtains (Debian
sid's OVMF.amdsev.fd and OVMF.inteltdx.ms.fd, bookworm's OVMF.fd), looked
for in ``$BUCKYPAPER_FIRMWARE`` (default: ``.firmware/`` in the repository
root); tests that need one skip when it is absent. The synthetic images
carry just an OVMF footer table with SEV or TDVF metadata.
"""

import os
import struct

import pytest

from buckypaper_os.attestation import firmware as fw_mod
from buckypaper_os.attestation.snp import ovmf
from buckypaper_os.attestation.tdx import measure as tdx_measure

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(
    os.path.abspath(__file__)))))
AMDSEV = 'OVMF.amdsev.fd'
BOOKWORM = 'OVMF.fd'
INTELTDX = 'OVMF.inteltdx.ms.fd'


def firmware_dir() -> str:
    return os.environ.get('BUCKYPAPER_FIRMWARE') or os.path.join(
        ROOT, '.firmware')


def real_image(name: str) -> str:
    """The path of a fetched firmware image, or skip the test."""
    path = os.path.join(firmware_dir(), name)
    if not os.path.isfile(path):
        pytest.skip('firmware image %s not found: run '
                    'tools/fetch-firmware.sh %s (or set BUCKYPAPER_FIRMWARE)'
                    % (path, firmware_dir()))
    return path


def footer(entries: list) -> bytes:
    """An OVMF footer table of ``(guid, data)`` entries and its footer.

    The first entry ends up nearest the footer, as OVMF lays them out.
    """
    body = b''
    for guid, data in reversed(entries):
        body += data + struct.pack('<H', len(data) + 18) + guid.bytes_le
    return body + struct.pack('<H', len(body) + 18) + \
        fw_mod.FOOTER_GUID.bytes_le


def image(entries: list, size: int = 64 * 1024, blobs: dict = None,
          fill: bytes = b'\xff') -> bytearray:
    """A synthetic flash image with a footer table.

    ``blobs`` maps offsets from the end of the image to bytes placed there;
    the footer table ends 32 bytes before the end.
    """
    data = bytearray(fill * size)
    table = footer(entries)
    data[size - 32 - len(table):size - 32] = table
    data[size - 32:] = b'\x90' * 32
    for offset, blob in (blobs or {}).items():
        data[size - offset:size - offset + len(blob)] = blob
    return data


def u32(value: int) -> bytes:
    return struct.pack('<I', value)


SEV_SECTIONS = (
    (0x800000, 0x9000, 1), (0x80a000, 0x3000, 1), (0x80d000, 0x1000, 2),
    (0x80e000, 0x1000, 3), (0x80f000, 0x1000, 4), (0x811000, 0x1f000, 1),
    (0x810000, 0x1000, 0x10))
SEV_METADATA_AT = 0x800     # offset from the end of the image
HASHES_GPA = 0x810c00


def sev_metadata(sections=SEV_SECTIONS, signature=b'ASEV',
                 version=1) -> bytes:
    body = b''.join(struct.pack('<III', *s) for s in sections)
    return struct.pack('<4sIII', signature, 16 + len(body), version,
                       len(sections)) + body


def sev_image(sections=SEV_SECTIONS, ap_eip=0x80b004,
              hashes_gpa=HASHES_GPA, metadata: bytes = None,
              size: int = 64 * 1024, seed: int = 0) -> bytearray:
    """An OVMF-like image with SEV metadata (and some varied pages)."""
    entries = [(ovmf.SEV_METADATA_GUID, u32(SEV_METADATA_AT))]
    if ap_eip is not None:
        entries.append((ovmf.SEV_ES_RESET_BLOCK_GUID, u32(ap_eip)))
    if hashes_gpa is not None:
        entries.append((ovmf.SEV_HASH_TABLE_GUID,
                        u32(hashes_gpa) + u32(0x400)))
    data = image(entries, size, {
        SEV_METADATA_AT: metadata if metadata is not None
        else sev_metadata(sections)})
    for page in range(0, size // 4096 - 1, 3):
        data[page * 4096:page * 4096 + 16] = struct.pack('<QQ', seed, page)
    return data


TDVF_AT = 0x600


def tdvf_sections(size: int) -> list:
    """BFV (measured, from the image), CFV, TD HOB, temporary memory."""
    return [
        # data offset, raw size, address, memory size, type, attributes
        (0x4000, size - 0x4000, (1 << 32) - size + 0x4000, size - 0x4000,
         0, tdx_measure.ATTR_MR_EXTEND),
        (0, 0x4000, (1 << 32) - size, 0x4000, 1, 0),
        (0, 0, 0x809000, 0x2000, 2, 0),
        (0, 0, 0x800000, 0x6000, 3, 0),
    ]


def tdvf_metadata(sections, signature=b'TDVF', version=1) -> bytes:
    body = b''.join(struct.pack('<IIQQII', *s) for s in sections)
    return struct.pack('<4sIII', signature, 16 + len(body), version,
                       len(sections)) + body


def tdvf_image(sections=None, metadata: bytes = None,
               size: int = 64 * 1024) -> bytearray:
    sections = tdvf_sections(size) if sections is None else sections
    data = image([(tdx_measure.TDX_METADATA_GUID, u32(TDVF_AT))], size, {
        TDVF_AT: metadata if metadata is not None
        else tdvf_metadata(sections)})
    for page in range(0, size // 4096 - 1, 2):
        data[page * 4096 + 100:page * 4096 + 108] = struct.pack('<Q', page)
    return data
