"""The OVMF footer GUID table shared by SEV and TDX firmware images.

OVMF's reset vector (edk2 ``OvmfPkg/ResetVector/Ia16/ResetVectorVtf0.asm``)
ends with a table of GUID-tagged entries found from the end of the image::

    ... [entry N] ... [entry 1] [footer] [32 bytes: reset vector code]

Each entry is ``data || u16 length || GUID`` where ``length`` counts the
whole entry (data, length and GUID); the footer itself is such an entry
whose GUID is :data:`FOOTER_GUID` and whose length covers the whole table.
The table is walked backwards from the footer.
"""

import struct
import uuid

#: The GUID of the footer entry that closes the table.
FOOTER_GUID = uuid.UUID('96b582de-1fb2-45f7-baea-a366c55a082d')

#: The reset vector code after the footer.
_RESET_VECTOR_SIZE = 32
_ENTRY_HEADER = struct.Struct('<H16s')

PAGE_SIZE = 4096


class FirmwareError(ValueError):
    """A firmware image that cannot be measured; the message says why."""


def footer_table(image: bytes) -> dict:
    """Map each GUID of the image's footer table to its entry data.

    Raises :class:`FirmwareError` when the image has no footer table or
    the table is inconsistent.
    """
    end = len(image) - _RESET_VECTOR_SIZE
    footer = end - _ENTRY_HEADER.size
    if footer < 0:
        raise FirmwareError('image too small for an OVMF footer table '
                            '(%d bytes)' % len(image))
    size, guid = _ENTRY_HEADER.unpack_from(image, footer)
    if uuid.UUID(bytes_le=guid) != FOOTER_GUID:
        raise FirmwareError('no OVMF footer table GUID at offset %#x'
                            % footer)
    if size < _ENTRY_HEADER.size or size > end:
        raise FirmwareError('OVMF footer table length %d is invalid' % size)
    table = {}
    pos = footer
    start = end - size
    while pos - _ENTRY_HEADER.size >= start:
        length, guid = _ENTRY_HEADER.unpack_from(
            image, pos - _ENTRY_HEADER.size)
        if length < _ENTRY_HEADER.size or pos - length < start:
            raise FirmwareError('OVMF footer table entry at offset %#x has '
                                'an invalid length %d' % (pos, length))
        table[uuid.UUID(bytes_le=guid)] = bytes(
            image[pos - length:pos - _ENTRY_HEADER.size])
        pos -= length
    return table


def entry_u32(table: dict, guid: uuid.UUID, name: str) -> int:
    """The little-endian u32 at the start of the entry ``guid``."""
    data = table.get(guid)
    if data is None:
        raise FirmwareError('the firmware has no %s (GUID %s)' % (name, guid))
    if len(data) < 4:
        raise FirmwareError('the %s entry is %d bytes, too short'
                            % (name, len(data)))
    return int.from_bytes(data[:4], 'little')
