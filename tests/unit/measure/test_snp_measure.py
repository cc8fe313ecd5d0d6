"""SNP launch digest: malformed images, inputs and the prefix cache."""

import hashlib
import os
import struct

from hypothesis import given
from hypothesis import strategies as st
import pytest

from buckypaper_os.attestation import firmware as fw_mod
from buckypaper_os.attestation.snp import kernel_hashes
from buckypaper_os.attestation.snp import measure
from buckypaper_os.attestation.snp import ovmf
from tests.unit.measure import firmware

FirmwareError = fw_mod.FirmwareError


def _digest(image, vcpus=2, **kwargs):
    kwargs.setdefault('cpu_model', 'EPYC-v4')
    return measure.launch_digest(bytes(image), vcpus, **kwargs)


def test_page_info_chain_by_hand():
    """One PAGE_INFO step, spelled out from the ABI specification."""
    ld = bytes(range(48))
    contents = hashlib.sha384(b'page').digest()
    page_info = ld + contents + struct.pack('<HBBBBBBQ', 0x70, 1, 0, 0, 0,
                                            0, 0, 0xffc00000)
    assert len(page_info) == 0x70
    assert measure.extend(ld, measure.PAGE_NORMAL, 0xffc00000, contents) \
        == hashlib.sha384(page_info).digest()


def test_digest_depends_on_every_input():
    image = firmware.sev_image()
    hashes = kernel_hashes.KernelHashes.of(b'kernel', b'initrd', 'ro')
    digests = {
        _digest(image),
        _digest(image, 3),
        _digest(image, cpu_model='EPYC-Milan'),
        _digest(image, guest_features=0x21),
        _digest(image, kernel_hashes=hashes),
        _digest(image, kernel_hashes=kernel_hashes.KernelHashes.of(
            b'kernel', b'initrd', 'rw')),
        _digest(image, vmm='gce'),
        _digest(image, vmm='ec2'),
        _digest(firmware.sev_image(seed=1)),
    }
    assert len(digests) == 9


@pytest.mark.parametrize('mangle, message', [
    (lambda d: d.__setitem__(slice(-40, -34), b'\0' * 6), 'footer'),
    (lambda d: d.__setitem__(slice(-50, -32), b'\0' * 18), 'footer'),
])
def test_no_footer_table(mangle, message):
    image = firmware.sev_image()
    mangle(image)
    with pytest.raises(FirmwareError, match=message):
        _digest(image)


def test_footer_table_length_out_of_range():
    image = firmware.sev_image()
    struct.pack_into('<H', image, len(image) - 50, 0xffff)
    with pytest.raises(FirmwareError, match='length'):
        _digest(image[:0x1000 * 15] + image[-0x1000:])


def test_footer_entry_length_invalid():
    image = firmware.sev_image()
    # The entry nearest the footer: its length field.
    struct.pack_into('<H', image, len(image) - 50 - 18, 3)
    with pytest.raises(FirmwareError, match='entry'):
        _digest(image)


@pytest.mark.parametrize('metadata, message', [
    (firmware.sev_metadata(signature=b'XSEV'), 'signature'),
    (firmware.sev_metadata(version=2), 'version'),
    (firmware.sev_metadata(firmware.SEV_SECTIONS[:2] + ((0x80d000, 0x1000,
                                                         7),)),
     'unknown type'),
    (firmware.sev_metadata(((0x800800, 0x1000, 1),)), 'aligned'),
    (firmware.sev_metadata(((0x80d000, 0x2000, 2),)), 'one page'),
    (struct.pack('<4sIII', b'ASEV', 16, 1, 3), 'does not fit'),
    (firmware.sev_metadata(((0xffff8000, 0x1000, 1),)), 'overlaps'),
    (firmware.sev_metadata(((0x1000, 0x8000000, 1),)), 'more than'),
])
def test_bad_sev_metadata(metadata, message):
    image = firmware.sev_image(metadata=metadata)
    with pytest.raises(FirmwareError, match=message):
        _digest(image)


def test_no_sev_metadata():
    image = firmware.image([(ovmf.SEV_ES_RESET_BLOCK_GUID,
                             firmware.u32(0x80b004))])
    with pytest.raises(FirmwareError, match='no SEV metadata'):
        _digest(image)


def test_metadata_offset_outside_image():
    image = firmware.image([(ovmf.SEV_METADATA_GUID, firmware.u32(1 << 20))])
    with pytest.raises(FirmwareError, match='outside'):
        _digest(image)


@pytest.mark.parametrize('data', [b'', b'\0' * 100, b'\xff' * 4095,
                                  b'\xff' * 4097])
def test_images_of_bad_size(data):
    with pytest.raises(FirmwareError):
        _digest(data)


def test_kernel_hashes_need_firmware_support():
    hashes = kernel_hashes.KernelHashes.of(b'k')
    no_table = firmware.sev_image(hashes_gpa=None)
    with pytest.raises(FirmwareError, match='directly booted'):
        _digest(no_table, kernel_hashes=hashes)
    no_section = firmware.sev_image(sections=firmware.SEV_SECTIONS[:-1])
    with pytest.raises(FirmwareError, match='directly booted'):
        _digest(no_section, kernel_hashes=hashes)
    elsewhere = firmware.sev_image(hashes_gpa=0x80e000)
    with pytest.raises(FirmwareError, match='not in the kernel hashes'):
        _digest(elsewhere, kernel_hashes=hashes)
    # Without a kernel, all of them measure.
    for image in (no_table, no_section, elsewhere):
        _digest(image)


def test_aps_need_a_reset_block():
    image = firmware.sev_image(ap_eip=None)
    _digest(image, 1)
    with pytest.raises(FirmwareError, match='reset block'):
        _digest(image, 2)


@pytest.mark.parametrize('kwargs, message', [
    ({'cpu_model': 'EPYC-v9'}, 'unknown CPU model'),
    ({'cpu_model': None}, 'CPU model or signature'),
    ({'cpu_sig': 1 << 32, 'cpu_model': None}, 'out of range'),
    ({'cpu_sig': 0x800f12}, 'not both'),
    ({'guest_features': -1}, 'out of range'),
    ({'vmm': 'xen'}, 'unknown VMM'),
])
def test_bad_inputs(kwargs, message):
    with pytest.raises(FirmwareError, match=message):
        _digest(firmware.sev_image(), **kwargs)


@pytest.mark.parametrize('vcpus', [0, -1, 4097, True, 1.5, '2'])
def test_bad_vcpu_counts(vcpus):
    with pytest.raises(FirmwareError, match='vCPU'):
        _digest(firmware.sev_image(), vcpus)


def test_cpu_signature_equals_model():
    image = firmware.sev_image()
    assert _digest(image, cpu_model='EPYC-Milan') == _digest(
        image, cpu_model=None, cpu_sig=0xa00f11)


def test_unreadable_path(tmp_path):
    with pytest.raises(FirmwareError, match='cannot read'):
        measure.launch_digest(str(tmp_path / 'missing.fd'), 1,
                              cpu_model='EPYC-v4')


def test_path_cache_notices_a_changed_file(tmp_path):
    path = tmp_path / 'ovmf.fd'
    path.write_bytes(firmware.sev_image(seed=1))
    first = measure.launch_digest(str(path), 1, cpu_model='EPYC-v4')
    assert first == _digest(firmware.sev_image(seed=1), 1)
    path.write_bytes(firmware.sev_image(seed=2))
    st = os.stat(path)
    os.utime(path, ns=(st.st_atime_ns, st.st_mtime_ns + 10 ** 9))
    second = measure.launch_digest(str(path), 1, cpu_model='EPYC-v4')
    assert second == _digest(firmware.sev_image(seed=2), 1) != first


def test_prepared_images_are_cached_by_content(tmp_path):
    measure.clear_cache()
    data = bytes(firmware.sev_image(seed=7))
    one = measure.prepare(data)
    path = tmp_path / 'copy.fd'
    path.write_bytes(data)
    assert measure.prepare(str(path)) is one
    assert measure.prepare(one) is one
    assert measure.launch_digest(one, 2, cpu_model='EPYC-v4') == \
        _digest(data)


def test_cache_is_bounded():
    measure.clear_cache()
    images = [bytes(firmware.sev_image(seed=n)) for n in range(20)]
    first = measure.prepare(images[0])
    for data in images[1:]:
        measure.prepare(data)
    again = measure.prepare(images[0])
    assert again == first and again is not first


def test_erased_and_zero_pages_digest_as_any_page():
    """The shortcut for erased/zero pages gives their real SHA-384."""
    for fill in (b'\xff', b'\0', b'\xfe'):
        data = bytes(firmware.sev_image()) + b''
        data = fill * 4096 + data[4096:]
        prepared = measure.prepare(data)
        ld = bytes(48)
        gpa = (1 << 32) - len(data)
        for off in range(0, len(data), 4096):
            ld = measure.extend(ld, 1, gpa + off, hashlib.sha384(
                data[off:off + 4096]).digest())
        assert prepared.prefix == ld


@given(st.lists(st.tuples(st.integers(0, 0x820), st.integers(0, 255)),
                min_size=1, max_size=8))
def test_mutated_metadata_never_crashes(mutations):
    """Corrupted footer/metadata bytes: a digest or a FirmwareError."""
    image = firmware.sev_image()
    for offset, value in mutations:
        image[len(image) - 1 - offset] = value
    try:
        digest = _digest(image, kernel_hashes=kernel_hashes.KernelHashes.of(
            b'k'))
    except FirmwareError:
        return
    assert len(digest) == 48
