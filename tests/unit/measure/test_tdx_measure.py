"""TDX MRTD from TDVF images.

No package this project can install computes MRTD from a TDVF image,
and no published MRTD names a TDVF build it can fetch (what was searched:
doc/measurement.md), so the reference here is the TDX module's
accumulation written out literally: one SHA-384 context updated with a
128-byte block per TDH.MEM.PAGE.ADD and a 128-byte block plus 256 bytes
of data per TDH.MR.EXTEND, in KVM's order.
"""

import hashlib
import struct

import pytest

from buckypaper_os.attestation import firmware as fw_mod
from buckypaper_os.attestation.tdx import measure
from tests.unit.measure import firmware

FirmwareError = fw_mod.FirmwareError

#: MRTD of sid's ovmf-inteltdx 2026.08+ds-2 OVMF.inteltdx.ms.fd (pinned
#: by tools/fetch-firmware.sh), upstream KVM order.
SID_INTELTDX_MRTD = (
    'a7a1f751abc454f9cbab198ca8d2edb2821935df525c74182b5e776cb0929e8c'
    '59aefecce725b0d08a5e9d3d3183bd08')


def reference_mrtd(image: bytes, two_pass: bool = False) -> bytes:
    """MRTD by the TDX module ABI, section by section, page by page."""
    table = fw_mod.footer_table(image)
    offset = int.from_bytes(table[measure.TDX_METADATA_GUID][:4], 'little')
    start = len(image) - offset
    count = struct.unpack_from('<I', image, start + 12)[0]
    mrtd = hashlib.sha384()

    def page_add(gpa):
        block = bytearray(128)
        block[0:12] = b'MEM.PAGE.ADD'
        block[16:24] = gpa.to_bytes(8, 'little')
        mrtd.update(block)

    def mr_extend(gpa, data):
        for chunk in range(16):
            block = bytearray(128)
            block[0:9] = b'MR.EXTEND'
            block[16:24] = (gpa + chunk * 256).to_bytes(8, 'little')
            mrtd.update(block)
            mrtd.update(data[chunk * 256:(chunk + 1) * 256])

    for i in range(count):
        data_offset, raw, address, size, _type, attrs = struct.unpack_from(
            '<IIQQII', image, start + 16 + 32 * i)
        if attrs & 2:
            continue
        memory = image[data_offset:data_offset + raw].ljust(size, b'\0')
        pages = [(address + n * 4096, memory[n * 4096:(n + 1) * 4096])
                 for n in range(size // 4096)]
        if two_pass:
            for gpa, _ in pages:
                page_add(gpa)
        for gpa, data in pages:
            if not two_pass:
                page_add(gpa)
            if attrs & 1:
                mr_extend(gpa, data)
    return mrtd.digest()


def test_sid_inteltdx_mrtd():
    path = firmware.real_image(firmware.INTELTDX)
    with open(path, 'rb') as f:
        image = f.read()
    assert measure.mrtd(path).hex() == SID_INTELTDX_MRTD
    assert measure.mrtd(image) == reference_mrtd(image)
    assert measure.mrtd(image, measure.TWO_PASS) == reference_mrtd(
        image, two_pass=True)


def test_sid_inteltdx_sections():
    path = firmware.real_image(firmware.INTELTDX)
    with open(path, 'rb') as f:
        sections = measure.parse(f.read())
    kinds = [(measure.SECTION_TYPES[s.type], s.attributes)
             for s in sections]
    assert kinds[0] == ('BFV', measure.ATTR_MR_EXTEND)
    assert ('CFV', 0) in kinds and ('TD_HOB', 0) in kinds


def test_firmware_without_tdvf_metadata():
    image = firmware.sev_image()
    with pytest.raises(FirmwareError, match='no TDX metadata'):
        measure.mrtd(bytes(image))


def test_synthetic_matches_reference():
    image = bytes(firmware.tdvf_image())
    assert measure.mrtd(image) == reference_mrtd(image)
    assert measure.mrtd(image, measure.TWO_PASS) == reference_mrtd(
        image, two_pass=True)
    assert measure.mrtd(image) != measure.mrtd(image, measure.TWO_PASS)


def test_measured_bytes_matter_and_others_do_not():
    image = firmware.tdvf_image()
    base = measure.mrtd(bytes(image))
    changed = bytearray(image)
    changed[0x100] ^= 1          # CFV: added, not measured
    assert measure.mrtd(bytes(changed)) == base
    changed = bytearray(image)
    changed[0x5000] ^= 1         # BFV: measured
    assert measure.mrtd(bytes(changed)) != base


def test_page_aug_sections_are_not_added():
    size = 64 * 1024
    sections = firmware.tdvf_sections(size)
    # Leave the last page (with the metadata) out of the measured BFV.
    sections[0] = sections[0][:1] + (sections[0][1] - 0x1000,) + \
        sections[0][2:3] + (sections[0][3] - 0x1000,) + sections[0][4:]
    with_aug = sections + [(0, 0, 0x1000000, 0x100000, 4,
                            measure.ATTR_PAGE_AUG)]
    assert measure.mrtd(bytes(firmware.tdvf_image(with_aug))) == \
        measure.mrtd(bytes(firmware.tdvf_image(sections)))


def test_short_raw_data_is_zero_filled():
    size = 64 * 1024
    sections = firmware.tdvf_sections(size)
    sections[0] = (0x4000, 0x1000, 0x10000000, 0x3000, 0,
                   measure.ATTR_MR_EXTEND)
    image = bytes(firmware.tdvf_image(sections))
    assert measure.mrtd(image) == reference_mrtd(image)


@pytest.mark.parametrize('mutate, message', [
    (lambda s: s.__setitem__(0, (0, 0, 0x1800, 0x1000, 0, 1)), 'aligned'),
    (lambda s: s.__setitem__(0, (0, 0x2000, 0x1000, 0x1000, 0, 1)),
     'bytes of data'),
    (lambda s: s.__setitem__(0, (0xf000, 0x2000, 0x1000, 0x2000, 0, 1)),
     'outside the image'),
    (lambda s: s.__setitem__(0, (0, 0, 0x1000, 0x1000, 0x42, 0)),
     'unknown type'),
    (lambda s: s.__setitem__(0, (0, 0, 0x1000, 0x1000, 0, 4)),
     'unknown attributes'),
    (lambda s: s.__setitem__(0, (0, 0, 0x1000, 0x1000, 4, 3)),
     'both'),
    (lambda s: s.__setitem__(0, (0, 0, 1 << 52, 0x1000, 3, 0)),
     'address space'),
])
def test_bad_sections(mutate, message):
    sections = firmware.tdvf_sections(64 * 1024)
    mutate(sections)
    with pytest.raises(FirmwareError, match=message):
        measure.mrtd(bytes(firmware.tdvf_image(sections)))


@pytest.mark.parametrize('metadata, message', [
    (firmware.tdvf_metadata(firmware.tdvf_sections(65536), b'TDVX'),
     'signature'),
    (firmware.tdvf_metadata(firmware.tdvf_sections(65536), version=2),
     'version'),
    (struct.pack('<4sIII', b'TDVF', 16, 1, 0), 'does not fit'),
    (struct.pack('<4sIII', b'TDVF', 48, 1, 2), 'does not fit'),
])
def test_bad_descriptor(metadata, message):
    with pytest.raises(FirmwareError, match=message):
        measure.mrtd(bytes(firmware.tdvf_image(metadata=metadata)))


def test_no_footer_or_unreadable(tmp_path):
    with pytest.raises(FirmwareError, match='footer'):
        measure.mrtd(b'\xff' * 65536)
    with pytest.raises(FirmwareError, match='too small'):
        measure.mrtd(b'')
    with pytest.raises(FirmwareError, match='cannot read'):
        measure.mrtd(str(tmp_path / 'missing.fd'))
    with pytest.raises(FirmwareError, match='order'):
        measure.mrtd(bytes(firmware.tdvf_image()), 'sideways')
