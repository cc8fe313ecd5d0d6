"""The /dev/sev-guest request encoding, checked without a device."""

import struct

import pytest

from buckypaper_os.enclaivelet import sevguest


def test_ioctl_number_is_iowr_s_2_of_32_bytes():
    # _IOWR('S', 0x2, struct snp_guest_request_ioctl), as the kernel has it
    assert sevguest.SNP_GET_EXT_REPORT == 0xC0205302


def test_struct_sizes_match_the_uapi():
    assert sevguest.REPORT_REQ.size == 96
    assert sevguest.EXT_REPORT_REQ.size == 112
    assert sevguest.GUEST_REQUEST.size == 32


def test_ext_report_request_layout():
    data = bytes(range(64))
    raw = sevguest.ext_report_request(data, 0x7f0012345000, 3 * 4096,
                                      vmpl=1)
    assert raw[:64] == data
    assert struct.unpack_from('<I', raw, 64) == (1,)
    assert raw[68:96] == bytes(28)
    assert struct.unpack_from('<QI', raw, 96) == (0x7f0012345000, 12288)
    assert raw[108:] == bytes(4)


def test_guest_request_layout():
    raw = sevguest.guest_request(0x1000, 0x2000)
    assert raw[0] == 1 and raw[1:8] == bytes(7)
    assert struct.unpack_from('<QQQ', raw, 8) == (0x1000, 0x2000, 0)


def test_certs_len_must_be_pages():
    with pytest.raises(sevguest.SevGuestError):
        sevguest.ext_report_request(bytes(64), 0, 100)
    with pytest.raises(sevguest.SevGuestError):
        sevguest.report_request(bytes(63))


def test_parse_response():
    report = b'r' * 1184
    response = struct.pack('<II24x', 0, len(report)) + report
    response += bytes(sevguest.RESPONSE_SIZE - len(response))
    assert sevguest.parse_response(response) == report
    with pytest.raises(sevguest.SevGuestError, match='status 0x16'):
        sevguest.parse_response(struct.pack('<II24x', 0x16, 0) + bytes(100))
    with pytest.raises(sevguest.SevGuestError, match='out of range'):
        sevguest.parse_response(struct.pack('<II24x', 0, 5000) + bytes(10))


def test_no_device(tmp_path):
    with pytest.raises(sevguest.SevGuestError, match='cannot open'):
        sevguest.get_ext_report(bytes(64), device=str(tmp_path / 'none'))
