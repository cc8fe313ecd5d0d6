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
import typing
import uuid

#: The GUID of the footer entry that closes the table.
FOOTER_GUID = uuid.UUID('96b582de-1fb2-45f7-baea-a366c55a082d')

#: The reset vector code after the footer.
_RESET_VECTOR_SIZE = 32
_ENTRY_HEADER = struct.Struct('<H16s')
#: A metadata block (SEV "ASEV", TDVF "TDVF"): signature, length, version,
#: number of sections; the section records follow.
_METADATA_HEADER = struct.Struct('<4sIII')

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


def metadata_sections(image: bytes, table: dict, guid: uuid.UUID,
                      entry: str, signature: bytes, section: struct.Struct
                      ) -> typing.List[tuple]:
    """The raw section records of a SEV or TDVF metadata block.

    The entry ``guid`` of the image's footer ``table`` holds the block's
    offset from the end of the image; ``entry`` names that entry,
    ``signature`` the block's (``b'ASEV'``, ``b'TDVF'``). Raises
    :class:`FirmwareError` unless the block is version 1 with at least one
    section, all inside the image.
    """
    size = len(image)
    offset = entry_u32(table, guid, entry)
    start = size - offset
    what = '%s metadata' % signature.decode('ascii')
    if offset > size or start + _METADATA_HEADER.size > size:
        raise FirmwareError('%s offset %#x is outside the image'
                            % (what, offset))
    found, length, version, count = _METADATA_HEADER.unpack_from(image,
                                                                 start)
    if found != signature:
        raise FirmwareError('%s signature is %r, not %s'
                            % (what, found, signature.decode('ascii')))
    if version != 1:
        raise FirmwareError('%s version %d is not supported'
                            % (what, version))
    if (not count
            or length != _METADATA_HEADER.size + count * section.size
            or start + length > size):
        raise FirmwareError('%s length %d does not fit %d sections'
                            % (what, length, count))
    first = start + _METADATA_HEADER.size
    return [section.unpack_from(image, first + i * section.size)
            for i in range(count)]
