"""Parse Intel TDX DCAP quotes (version 4 and 5).

Layout (Intel TDX DCAP Quote Generation Library, appendix "Quote format"):

* header, 48 bytes: version u16, attestation key type u16 (2 = ECDSA
  P-256), TEE type u32 (0x81 = TDX), QE SVN u16, PCE SVN u16, QE vendor id
  16, user data 20;
* v4: TD report body, 584 bytes; v5: body type u16 (2 = TD1.0, 3 = TD1.5),
  body size u32, body (584 or 648 bytes);
* signature data size u32, then ECDSA signature 64, attestation key 64 and
  certification data (type u16, size u32, data). Type 6 carries the QE
  report 384, its signature 64, QE authentication data (size u16) and a
  nested certification data of type 5, the PCK certificate chain.

All integers are little-endian. Every length is checked before use; the
quote ends where its signature data ends. Bytes after that end are ignored:
quotes are often zero-padded, and genuine quotes with other trailing bytes
exist (go-tdx-guest's SPR E4 sample ends in 39 bytes of text). Nothing
after the end is signed, so nothing there is read.
"""

import struct
import typing

from buckypaper_os.attestation import errors

HEADER_SIZE = 48
TD10_BODY_SIZE = 584
TD15_BODY_SIZE = 648
QE_REPORT_SIZE = 384
ATT_KEY_TYPE_ECDSA_P256 = 2
TEE_TYPE_TDX = 0x81
BODY_TYPE_TD10 = 2
BODY_TYPE_TD15 = 3
CERT_TYPE_PCK_CHAIN = 5
CERT_TYPE_QE_REPORT = 6

_BODY_SIZES = {BODY_TYPE_TD10: TD10_BODY_SIZE, BODY_TYPE_TD15: TD15_BODY_SIZE}
_HEADER = struct.Struct('<HHIHH16s20s')
_U16 = struct.Struct('<H')
_U32 = struct.Struct('<I')
_CERT_DATA = struct.Struct('<HI')


class Header(typing.NamedTuple):
    """The quote header."""

    version: int
    att_key_type: int
    tee_type: int
    qe_svn: int
    pce_svn: int
    qe_vendor_id: bytes
    user_data: bytes


class TdReport(typing.NamedTuple):
    """The TD report body (TD1.0; TD1.5 adds the last two fields)."""

    tee_tcb_svn: bytes
    mr_seam: bytes
    mr_signer_seam: bytes
    seam_attributes: bytes
    td_attributes: bytes
    xfam: bytes
    mr_td: bytes
    mr_config_id: bytes
    mr_owner: bytes
    mr_owner_config: bytes
    rtmrs: typing.Tuple[bytes, bytes, bytes, bytes]
    report_data: bytes
    tee_tcb_svn2: typing.Optional[bytes]
    mr_service_td: typing.Optional[bytes]


class QeReport(typing.NamedTuple):
    """The SGX report body of the Quoting Enclave."""

    raw: bytes
    cpu_svn: bytes
    misc_select: int
    attributes: bytes
    mr_enclave: bytes
    mr_signer: bytes
    isv_prod_id: int
    isv_svn: int
    report_data: bytes


class Quote(typing.NamedTuple):
    """A parsed quote; ``signed`` is the byte range the quote key signs."""

    header: Header
    body_type: int
    report: TdReport
    signed: bytes
    signature: bytes
    attestation_key: bytes
    qe_report: QeReport
    qe_report_signature: bytes
    qe_auth_data: bytes
    pck_chain: bytes


def looks_like_quote(data: bytes) -> bool:
    """True if ``data`` starts with a TDX quote v4/v5 header."""
    if len(data) < HEADER_SIZE:
        return False
    version, _, tee_type = struct.unpack_from('<HHI', data)
    return version in (4, 5) and tee_type == TEE_TYPE_TDX


class _Reader:
    """Bounds-checked sequential reads; errors name the offset and field."""

    __slots__ = ('data', 'pos', 'end')

    def __init__(self, data: bytes) -> None:
        self.data = data
        self.pos = 0
        self.end = len(data)

    def take(self, size: int, what: str) -> bytes:
        if size > self.end - self.pos:
            raise errors.EvidenceError(
                'TDX quote truncated at offset %d: %s needs %d bytes, %d left'
                % (self.pos, what, size, self.end - self.pos))
        start = self.pos
        self.pos += size
        return self.data[start:self.pos]

    def u16(self, what: str) -> int:
        return _U16.unpack(self.take(2, what))[0]

    def u32(self, what: str) -> int:
        return _U32.unpack(self.take(4, what))[0]

    def sub(self, size: int, what: str) -> '_Reader':
        """A reader limited to the next ``size`` bytes."""
        return _Reader(self.take(size, what))

    def done(self, what: str) -> None:
        """The region must be fully consumed."""
        if self.pos != self.end:
            raise errors.EvidenceError(
                '%s has %d unexpected bytes at offset %d'
                % (what, self.end - self.pos, self.pos))


def parse(data: bytes) -> Quote:
    """Parse a TDX quote; raise :class:`EvidenceError` if malformed."""
    reader = _Reader(bytes(data))
    header = Header(*_HEADER.unpack(reader.take(HEADER_SIZE, 'header')))
    if header.version not in (4, 5):
        raise errors.EvidenceError(
            'unsupported TDX quote version %d' % header.version)
    if header.tee_type != TEE_TYPE_TDX:
        raise errors.EvidenceError(
            'quote TEE type 0x%x is not TDX' % header.tee_type)
    if header.att_key_type != ATT_KEY_TYPE_ECDSA_P256:
        raise errors.EvidenceError(
            'unsupported attestation key type %d' % header.att_key_type)
    if header.version == 4:
        body_type, body_size = BODY_TYPE_TD10, TD10_BODY_SIZE
    else:
        body_type = reader.u16('body type')
        body_size = reader.u32('body size')
        if _BODY_SIZES.get(body_type) != body_size:
            raise errors.EvidenceError(
                'unsupported TDX quote v5 body type %d of %d bytes'
                % (body_type, body_size))
    report = _td_report(reader.take(body_size, 'TD report body'))
    signed = reader.data[:reader.pos]
    sig_data = reader.sub(reader.u32('signature data size'),
                          'signature data')
    signature = sig_data.take(64, 'quote signature')
    attestation_key = sig_data.take(64, 'attestation key')
    qe_data = _cert_data(sig_data, CERT_TYPE_QE_REPORT, 'QE certification')
    sig_data.done('signature data')
    qe = qe_report(qe_data.take(QE_REPORT_SIZE, 'QE report'))
    qe_report_signature = qe_data.take(64, 'QE report signature')
    qe_auth_data = qe_data.take(qe_data.u16('QE auth data size'),
                                'QE auth data')
    pck = _cert_data(qe_data, CERT_TYPE_PCK_CHAIN, 'PCK certification')
    qe_data.done('QE certification data')
    return Quote(header, body_type, report, signed, signature,
                 attestation_key, qe, qe_report_signature,
                 qe_auth_data, pck.take(pck.end, 'PCK chain'))


def _cert_data(reader: _Reader, expected_type: int, what: str) -> _Reader:
    cert_type, size = _CERT_DATA.unpack(reader.take(6, what + ' header'))
    if cert_type != expected_type:
        raise errors.EvidenceError('%s data type %d, expected %d'
                                   % (what, cert_type, expected_type))
    return reader.sub(size, what + ' data')


def _td_report(body: bytes) -> TdReport:
    f = [body[o:o + n] for o, n in _TD_FIELDS]
    td15 = len(body) == TD15_BODY_SIZE
    return TdReport(*f[:10], tuple(f[10:14]), f[14],
                    body[584:600] if td15 else None,
                    body[600:648] if td15 else None)


# (offset, size) of TEE_TCB_SVN, MRSEAM, MRSIGNERSEAM, SEAMATTRIBUTES,
# TDATTRIBUTES, XFAM, MRTD, MRCONFIGID, MROWNER, MROWNERCONFIG, RTMR0-3,
# REPORTDATA.
_TD_FIELDS = ((0, 16), (16, 48), (64, 48), (112, 8), (120, 8), (128, 8),
              (136, 48), (184, 48), (232, 48), (280, 48), (328, 48),
              (376, 48), (424, 48), (472, 48), (520, 64))


def qe_report(raw: bytes) -> QeReport:
    """Parse the 384-byte QE report (SGX REPORTBODY)."""
    return QeReport(raw=raw, cpu_svn=raw[0:16],
                    misc_select=_U32.unpack_from(raw, 16)[0],
                    attributes=raw[48:64], mr_enclave=raw[64:96],
                    mr_signer=raw[128:160],
                    isv_prod_id=_U16.unpack_from(raw, 256)[0],
                    isv_svn=_U16.unpack_from(raw, 258)[0],
                    report_data=raw[320:384])


def tcb(report) -> typing.Dict[str, int]:
    """TEE_TCB_SVN as the components ``tee_tcb_svn_<i>`` of a policy."""
    return {'tee_tcb_svn_%d' % i: svn
            for i, svn in enumerate(report.tee_tcb_svn)}


def claims(quote: Quote, fmspc: bytes) -> dict:
    """The claims of ``expected.json``: hex of bytes as they appear."""
    report = quote.report
    rtmr0, rtmr1, rtmr2, rtmr3 = report.rtmrs
    return {'mr_td': report.mr_td.hex(), 'rtmr0': rtmr0.hex(),
            'rtmr1': rtmr1.hex(), 'rtmr2': rtmr2.hex(),
            'rtmr3': rtmr3.hex(), 'report_data': report.report_data.hex(),
            'mr_config_id': report.mr_config_id.hex(),
            'td_attributes': report.td_attributes.hex(),
            'xfam': report.xfam.hex(),
            'quote_version': quote.header.version, 'fmspc': fmspc.hex()}
