"""The expected MRTD of a TD built from a TDVF (OVMF for TDX) image.

TDVF design guide: the OVMF footer table's TDX metadata GUID entry holds
the offset, from the end of the image, of the TDVF descriptor::

    "TDVF", u32 length, u32 version=1, u32 section count,
    section count x (u32 data offset, u32 raw data size,
                     u64 memory address, u64 memory size,
                     u32 type, u32 attributes)

Attributes: MR.EXTEND (bit 0), PAGE.AUG (bit 1). QEMU/KVM add every page
of every section that is not PAGE.AUG with TDH.MEM.PAGE.ADD and, for
MR.EXTEND sections, measure each page's contents with TDH.MR.EXTEND in
256-byte chunks. Intel TDX module ABI: MRTD is the SHA-384, finalized by
TDH.MR.FINALIZE, over one 128-byte block per TDH.MEM.PAGE.ADD
(``"MEM.PAGE.ADD"`` padded to 16 bytes, u64 GPA, zeros) and, per
TDH.MR.EXTEND, a 128-byte block (``"MR.EXTEND"`` padded to 16 bytes, u64
GPA, zeros) followed by the 256 bytes of the chunk.

Upstream KVM (``KVM_TDX_INIT_MEM_REGION``) adds and extends page by page
(:data:`SINGLE_PASS`); earlier TDX trees added all of a section's pages
before extending them (:data:`TWO_PASS`).
"""

import dataclasses
import hashlib
import os
import struct
import uuid

from buckypaper_os.attestation import firmware
from buckypaper_os.attestation.firmware import FirmwareError

TDX_METADATA_GUID = uuid.UUID('e47a6535-984a-4798-865e-4685a7bf8ec2')

PAGE_SIZE = 4096
CHUNK_SIZE = 256
ATTR_MR_EXTEND = 0x1
ATTR_PAGE_AUG = 0x2
SINGLE_PASS = 'single-pass'
TWO_PASS = 'two-pass'
#: The image size a measurement is computed for, at most.
MAX_IMAGE_SIZE = 64 << 20

_SECTION = struct.Struct('<IIQQII')
_PAGE_ADD = b'MEM.PAGE.ADD'.ljust(16, b'\0')
_MR_EXTEND = b'MR.EXTEND'.ljust(16, b'\0')
_BLOCK_TAIL = bytes(128 - 16 - 8)

#: TDVF section types (TDVF design guide, table "TDVF_SECTION type").
SECTION_TYPES = {0: 'BFV', 1: 'CFV', 2: 'TD_HOB', 3: 'TempMem',
                 4: 'PermMem', 5: 'Payload', 6: 'PayloadParam',
                 8: 'TD_INFO'}


@dataclasses.dataclass(frozen=True)
class Section:
    """One TDVF metadata section."""

    data_offset: int
    raw_size: int
    address: int
    size: int
    type: int
    attributes: int


def parse(image: bytes) -> tuple:
    """The TDVF metadata sections of an image, in metadata order.

    Raises :class:`FirmwareError` when there is no TDVF metadata or it is
    inconsistent.
    """
    records = firmware.metadata_sections(
        image, firmware.footer_table(image), TDX_METADATA_GUID,
        'TDX metadata', b'TDVF', _SECTION)
    sections = []
    for i, record in enumerate(records):
        section = Section(*record)
        _check(image, i, section)
        sections.append(section)
    return tuple(sections)


def _check(image: bytes, i: int, s: Section) -> None:
    what = 'TDVF section %d' % i
    if s.type not in SECTION_TYPES:
        raise FirmwareError('%s has an unknown type %#x' % (what, s.type))
    if s.attributes & ~(ATTR_MR_EXTEND | ATTR_PAGE_AUG):
        raise FirmwareError('%s has unknown attributes %#x'
                            % (what, s.attributes))
    if s.attributes == ATTR_MR_EXTEND | ATTR_PAGE_AUG:
        raise FirmwareError('%s is both MR.EXTEND and PAGE.AUG' % what)
    if s.address % PAGE_SIZE or s.size % PAGE_SIZE:
        raise FirmwareError('%s (%#x+%#x) is not page aligned'
                            % (what, s.address, s.size))
    if s.address + s.size > 1 << 52:
        raise FirmwareError('%s ends above the guest physical address '
                            'space' % what)
    if s.raw_size > s.size:
        raise FirmwareError('%s has %#x bytes of data for %#x bytes of '
                            'memory' % (what, s.raw_size, s.size))
    if s.data_offset + s.raw_size > len(image):
        raise FirmwareError('%s data (%#x+%#x) is outside the image'
                            % (what, s.data_offset, s.raw_size))


def _block(tag: bytes, gpa: int) -> bytes:
    return tag + gpa.to_bytes(8, 'little') + _BLOCK_TAIL


def _extends(memory: memoryview, gpa: int, parts: list) -> None:
    for offset in range(0, PAGE_SIZE, CHUNK_SIZE):
        parts.append(_block(_MR_EXTEND, gpa + offset))
        parts.append(memory[offset:offset + CHUNK_SIZE])


def mrtd(source, order: str = SINGLE_PASS) -> bytes:
    """The 48-byte MRTD of a TD built from a TDVF image.

    ``source`` is the image's bytes or a path; ``order`` is
    :data:`SINGLE_PASS` (upstream KVM) or :data:`TWO_PASS`.
    """
    if order not in (SINGLE_PASS, TWO_PASS):
        raise FirmwareError('unknown page add order %r' % (order,))
    image = _read(source)
    parts = []
    for s in parse(image):
        if s.attributes & ATTR_PAGE_AUG:
            continue
        gpas = range(s.address, s.address + s.size, PAGE_SIZE)
        if not s.attributes & ATTR_MR_EXTEND:
            parts.extend(_block(_PAGE_ADD, gpa) for gpa in gpas)
            continue
        memory = image[s.data_offset:s.data_offset + s.raw_size]
        memory = memoryview(memory + bytes(s.size - s.raw_size))
        if order == TWO_PASS:
            parts.extend(_block(_PAGE_ADD, gpa) for gpa in gpas)
        for n, gpa in enumerate(gpas):
            if order == SINGLE_PASS:
                parts.append(_block(_PAGE_ADD, gpa))
            _extends(memory[n * PAGE_SIZE:(n + 1) * PAGE_SIZE], gpa, parts)
    return hashlib.sha384(b''.join(parts)).digest()


def _read(source) -> bytes:
    if isinstance(source, (bytes, bytearray, memoryview)):
        image = bytes(source)
    else:
        path = os.fspath(source)
        try:
            with open(path, 'rb') as f:
                image = f.read(MAX_IMAGE_SIZE + 1)
        except OSError as exc:
            raise FirmwareError('cannot read firmware image %s: %s'
                                % (path, exc.strerror or exc)) from None
    if len(image) > MAX_IMAGE_SIZE:
        raise FirmwareError('firmware image is larger than %d bytes'
                            % MAX_IMAGE_SIZE)
    return image
