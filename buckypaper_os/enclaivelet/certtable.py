"""The GHCB certificate table an SNP host hands out with a report.

``auxblob`` of configfs-tsm (provider ``sev_guest``) and the certificate
buffer of ``SNP_GET_EXT_REPORT`` hold it: entries of ``GUID (16 bytes,
little-endian fields) || offset (u32) || length (u32)``, ended by an all-zero
entry, offsets counted from the start of the table.
"""

import struct
import typing
import uuid

VCEK = uuid.UUID('63da758d-e664-4564-adc5-f4b93be8accd')
VLEK = uuid.UUID('a8074bc2-a25a-483e-aae6-39c045a0b8a1')
ASK = uuid.UUID('4ab7b379-bbac-4fe4-a02f-05aef327c782')
ARK = uuid.UUID('c0b406a4-a803-4952-9743-3fb6014cd0ae')
_ENTRY = struct.Struct('<16sII')


class CertTableError(ValueError):
    """A certificate table that does not parse."""


def encode(entries: typing.Sequence[typing.Tuple[uuid.UUID, bytes]]
           ) -> bytes:
    """A table of ``(guid, certificate)`` entries."""
    offset = _ENTRY.size * (len(entries) + 1)
    head, body = [], []
    for guid, data in entries:
        head.append(_ENTRY.pack(guid.bytes_le, offset, len(data)))
        body.append(data)
        offset += len(data)
    return b''.join(head) + bytes(_ENTRY.size) + b''.join(body)


def decode(table: bytes) -> typing.List[typing.Tuple[uuid.UUID, bytes]]:
    """The ``(guid, certificate)`` entries of a table (empty: none)."""
    entries, copied = [], 0
    for pos in range(0, len(table), _ENTRY.size):
        if pos + _ENTRY.size > len(table):
            raise CertTableError('certificate table has no end entry')
        raw, offset, length = _ENTRY.unpack_from(table, pos)
        if raw == bytes(16) and not offset and not length:
            return entries
        if offset + length > len(table) or length == 0:
            raise CertTableError('certificate entry outside the table')
        # Overlapping entries could make a small table copy gigabytes.
        copied += length
        if copied > len(table):
            raise CertTableError('certificate entries overlap')
        entries.append((uuid.UUID(bytes_le=raw),
                        table[offset:offset + length]))
    if table:
        raise CertTableError('certificate table has no end entry')
    return entries


def certificates(table: bytes) -> typing.List[bytes]:
    """The certificates to send with a report: VCEK/VLEK first."""
    order = {VCEK: 0, VLEK: 0, ASK: 1, ARK: 2}
    entries = sorted(decode(table), key=lambda e: order.get(e[0], 3))
    return [data for _, data in entries]
