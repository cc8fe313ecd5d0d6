"""What an OVMF image tells the SEV-SNP launch: its SEV metadata.

From the OVMF footer table (:mod:`buckypaper_os.attestation.firmware`):

- the SEV metadata (``OvmfPkg/ResetVector/X64/OvmfSevMetadata.asm``): an
  ``ASEV`` header (signature, length, version 1, section count) followed by
  ``u32 gpa, u32 size, u32 type`` descriptors of the pages QEMU adds to the
  guest before launch besides the image itself (zeroed SEC memory, the
  secrets page, the CPUID page, the SVSM calling area, the kernel hashes
  page);
- the SEV-ES reset block: the APs' reset EIP;
- the SEV hash table block: GPA and size of the kernel hashes table QEMU
  writes for direct kernel boot (``target/i386/sev.c``).

The image itself is mapped to end at 4 GiB.
"""

import dataclasses
import enum
import struct
import uuid

from buckypaper_os.attestation import firmware
from buckypaper_os.attestation.firmware import FirmwareError

SEV_METADATA_GUID = uuid.UUID('dc886566-984a-4798-a75e-5585a7bf67cc')
SEV_ES_RESET_BLOCK_GUID = uuid.UUID('00f771de-1a7e-4fcb-890e-68c77e2fb44e')
SEV_HASH_TABLE_GUID = uuid.UUID('7255371f-3a3b-4b04-927b-1da6efa8d454')

FOUR_GIB = 1 << 32
#: Total size of the metadata sections accepted, at most (OVMF: < 1 MiB).
MAX_SECTIONS_SIZE = 64 << 20
_SECTION = struct.Struct('<III')


class SectionType(enum.IntEnum):
    """SEV metadata section types (OvmfSevMetadata.asm)."""

    SNP_SEC_MEM = 1
    SNP_SECRETS = 2
    CPUID = 3
    SVSM_CAA = 4
    SNP_KERNEL_HASHES = 0x10


@dataclasses.dataclass(frozen=True)
class Section:
    """One SEV metadata section: ``size`` bytes at guest address ``gpa``."""

    gpa: int
    size: int
    type: SectionType


@dataclasses.dataclass(frozen=True)
class SevFirmware:
    """The SEV-relevant layout of an OVMF image (not its contents)."""

    #: Size of the image in bytes; it is mapped at ``4 GiB - size``.
    size: int
    sections: tuple
    #: The APs' reset EIP, 0 when the image has no SEV-ES reset block.
    ap_eip: int
    #: GPA of the kernel hashes table, 0 when the image has none.
    hashes_table_gpa: int

    @property
    def gpa(self) -> int:
        """Where the image starts in guest physical memory."""
        return FOUR_GIB - self.size

    @property
    def supports_kernel_hashes(self) -> bool:
        """Whether QEMU can measure a directly booted kernel with it."""
        return bool(self.hashes_table_gpa) and any(
            s.type == SectionType.SNP_KERNEL_HASHES for s in self.sections)


def parse(image: bytes) -> SevFirmware:
    """Parse the SEV metadata of an OVMF image.

    Raises :class:`FirmwareError` for an image without SEV-SNP metadata or
    with an inconsistent one.
    """
    size = len(image)
    if not size or size % firmware.PAGE_SIZE or size > FOUR_GIB // 2:
        raise FirmwareError('firmware image size %d is not a whole number '
                            'of 4 KiB pages below 2 GiB' % size)
    table = firmware.footer_table(image)
    records = firmware.metadata_sections(image, table, SEV_METADATA_GUID,
                                         'SEV metadata', b'ASEV', _SECTION)
    sections = []
    for i, (gpa, sec_size, kind) in enumerate(records):
        try:
            kind = SectionType(kind)
        except ValueError:
            raise FirmwareError('SEV metadata section %d has an unknown '
                                'type %#x' % (i, kind)) from None
        if gpa % firmware.PAGE_SIZE or sec_size % firmware.PAGE_SIZE:
            raise FirmwareError('SEV metadata section %d (%#x+%#x) is not '
                                'page aligned' % (i, gpa, sec_size))
        if kind in (SectionType.SNP_SECRETS, SectionType.CPUID) and (
                sec_size != firmware.PAGE_SIZE):
            raise FirmwareError('SEV metadata section %d (%s) is %#x bytes, '
                                'not one page' % (i, kind.name, sec_size))
        if gpa + sec_size > FOUR_GIB - size:
            raise FirmwareError('SEV metadata section %d (%#x+%#x) overlaps '
                                'the firmware image' % (i, gpa, sec_size))
        sections.append(Section(gpa, sec_size, kind))
    if sum(s.size for s in sections) > MAX_SECTIONS_SIZE:
        raise FirmwareError('SEV metadata sections cover more than %d bytes'
                            % MAX_SECTIONS_SIZE)
    ap_eip = 0
    if SEV_ES_RESET_BLOCK_GUID in table:
        ap_eip = firmware.entry_u32(table, SEV_ES_RESET_BLOCK_GUID,
                                    'SEV-ES reset block')
    hashes_gpa = 0
    if SEV_HASH_TABLE_GUID in table:
        hashes_gpa = firmware.entry_u32(table, SEV_HASH_TABLE_GUID,
                                        'SEV hash table block')
    return SevFirmware(size, tuple(sections), ap_eip, hashes_gpa)
