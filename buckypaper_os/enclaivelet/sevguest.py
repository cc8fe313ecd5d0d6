"""SNP evidence through ``/dev/sev-guest`` (kernels without configfs-tsm).

The ``SNP_GET_EXT_REPORT`` ioctl, with the structures of the Linux UAPI
``include/uapi/linux/sev-guest.h``::

    struct snp_report_req {            96 bytes
        __u8 user_data[64]; __u32 vmpl; __u8 rsvd[28]; };
    struct snp_ext_report_req {        112 bytes (aligned to 8)
        struct snp_report_req data; __u64 certs_address; __u32 certs_len; };
    struct snp_report_resp { __u8 data[4000]; };
    struct snp_guest_request_ioctl {   32 bytes
        __u8 msg_version; __u64 req_data; __u64 resp_data;
        union { __u64 exitinfo2; struct { __u32 fw_error, vmm_error; }; }; };
    #define SNP_GET_EXT_REPORT _IOWR('S', 0x2, struct snp_guest_request_ioctl)

The response holds ``MSG_REPORT_RSP``: ``status (u32) || report_size (u32)
|| 24 reserved bytes || report``. ``certs_len`` must be a multiple of the
page size; when it is too small the VMM answers ``vmm_error`` 1
(``SNP_GUEST_VMM_ERR_INVALID_LEN``) with the length it needs.
"""

import ctypes
import errno
import fcntl
import os
import struct
import typing

DEVICE = '/dev/sev-guest'
PAGE = 4096
REPORT_REQ = struct.Struct('<64sI28x')
EXT_REPORT_REQ = struct.Struct('<96sQI4x')
GUEST_REQUEST = struct.Struct('<B7xQQQ')
RESPONSE_SIZE = 4000
REPORT_RSP_HEADER = struct.Struct('<II24x')
VMM_ERR_INVALID_LEN = 1
MAX_CERTS = 16 * PAGE * 4


def _iowr(kind: str, number: int, size: int) -> int:
    return (3 << 30) | (size << 16) | (ord(kind) << 8) | number


SNP_GET_EXT_REPORT = _iowr('S', 2, GUEST_REQUEST.size)


class SevGuestError(Exception):
    """No device, or the firmware or VMM refused the request."""


def report_request(report_data: bytes, vmpl: int = 0) -> bytes:
    """``struct snp_report_req``."""
    if len(report_data) != 64:
        raise SevGuestError('REPORT_DATA must be 64 bytes')
    return REPORT_REQ.pack(report_data, vmpl)


def ext_report_request(report_data: bytes, certs_address: int,
                       certs_len: int, vmpl: int = 0) -> bytes:
    """``struct snp_ext_report_req``."""
    if certs_len % PAGE:
        raise SevGuestError('certs_len must be a multiple of %d' % PAGE)
    return EXT_REPORT_REQ.pack(report_request(report_data, vmpl),
                               certs_address, certs_len)


def guest_request(req_address: int, resp_address: int,
                  msg_version: int = 1) -> bytes:
    """``struct snp_guest_request_ioctl`` (exitinfo2 zero)."""
    return GUEST_REQUEST.pack(msg_version, req_address, resp_address, 0)


def parse_response(response: bytes) -> bytes:
    """The report of a ``MSG_REPORT_RSP``; an error on a bad status."""
    status, size = REPORT_RSP_HEADER.unpack_from(response)
    if status:
        raise SevGuestError('firmware status 0x%x' % status)
    start = REPORT_RSP_HEADER.size
    if size == 0 or start + size > len(response):
        raise SevGuestError('report size %d out of range' % size)
    return response[start:start + size]


def get_ext_report(report_data: bytes, vmpl: int = 0,
                   device: str = DEVICE) -> typing.Tuple[bytes, bytes]:
    """The report and the host's certificate table."""
    try:
        fd = os.open(device, os.O_RDWR)
    except OSError as exc:
        raise SevGuestError('cannot open %s: %s' % (device, exc.strerror)
                            ) from None
    try:
        certs_len = 4 * PAGE
        while True:
            certs = ctypes.create_string_buffer(certs_len)
            response = ctypes.create_string_buffer(RESPONSE_SIZE)
            request = ctypes.create_string_buffer(ext_report_request(
                report_data, ctypes.addressof(certs), certs_len, vmpl))
            ioctl = bytearray(guest_request(ctypes.addressof(request),
                                            ctypes.addressof(response)))
            try:
                fcntl.ioctl(fd, SNP_GET_EXT_REPORT, ioctl, True)
            except OSError as exc:
                exitinfo2 = GUEST_REQUEST.unpack(bytes(ioctl))[3]
                needed = EXT_REPORT_REQ.unpack(bytes(request))[2]
                if (exc.errno == errno.EINVAL
                        and exitinfo2 >> 32 == VMM_ERR_INVALID_LEN
                        and certs_len < needed <= MAX_CERTS):
                    certs_len = -(-needed // PAGE) * PAGE
                    continue
                raise SevGuestError('SNP_GET_EXT_REPORT: %s (exitinfo2 '
                                    '0x%x)' % (exc.strerror, exitinfo2)
                                    ) from None
            return parse_response(response.raw), certs.raw
    finally:
        os.close(fd)
