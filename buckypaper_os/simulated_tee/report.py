"""Build and sign SEV-SNP ATTESTATION_REPORTs (AMD SEV-SNP ABI, table 23).

:func:`build` lays out the fields the way the firmware does (every TCB
field equal to the reported TCB, CPUID from version 3, zero mitigation
vectors in version 5); :func:`sign` signs bytes 0x000..0x29F with an ECDSA
P-384 key as a VCEK or VLEK would.
"""

import struct
import typing

from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric import utils
from cryptography.hazmat.primitives import hashes

from buckypaper_os.attestation.snp import abi

#: CPUID family, model and stepping of each product (version 3 and later).
CPUID = {abi.MILAN: (0x19, 0x01, 0x01), abi.GENOA: (0x19, 0x11, 0x01),
         abi.TURIN: (0x1A, 0x02, 0x00)}
#: A plausible current TCB of each product.
DEFAULT_TCB = {abi.MILAN: {'bl': 3, 'tee': 0, 'snp': 8, 'ucode': 115},
               abi.GENOA: {'bl': 10, 'tee': 0, 'snp': 23, 'ucode': 84},
               abi.TURIN: {'fmc': 1, 'bl': 2, 'tee': 3, 'snp': 4,
                           'ucode': 72}}

# Field offsets that abi.Report reads but abi does not name.
_REPORT_DATA, _MEASUREMENT, _HOST_DATA = 0x50, 0x90, 0xC0
_REPORT_ID, _REPORTED_TCB, _CPUID, _CHIP_ID = 0x140, 0x180, 0x188, 0x1A0
_CURRENT_TCB, _COMMITTED_TCB, _LAUNCH_TCB = 0x38, 0x1E0, 0x1F0
_KEY_CODES = {kind: code for code, kind in abi.SIGNING_KEYS.items()}
_MASK_CHIP_KEY = 1 << 1


def encode_tcb(tcb: typing.Mapping[str, int], product: str) -> int:
    """TCB_VERSION from components (inverse of :func:`abi.decode_tcb`).

    Raises :class:`ValueError` unless ``tcb`` has exactly the product's
    components, each an SPL of 0..255.
    """
    expected = set(abi.decode_tcb(0, product))
    if set(tcb) != expected or not all(
            isinstance(v, int) and 0 <= v <= 255 for v in tcb.values()):
        raise ValueError('a %s TCB has components %s, each 0..255: not %r'
                         % (product, ', '.join(sorted(expected)), dict(tcb)))
    b = bytearray(8)
    if product == abi.TURIN:
        b[0], b[1], b[2], b[3] = tcb['fmc'], tcb['bl'], tcb['tee'], tcb['snp']
    else:
        b[0], b[1], b[6] = tcb['bl'], tcb['tee'], tcb['snp']
    b[7] = tcb['ucode']
    return int.from_bytes(b, 'little')


def build(product: str, *, tcb: typing.Mapping[str, int], chip_id: bytes,
          version: int = 3, guest_svn: int = 0, policy: int = 0x30000,
          vmpl: int = 0, report_data: bytes = bytes(64),
          measurement: bytes = bytes(48), host_data: bytes = bytes(32),
          report_id: bytes = bytes(32), signing_key: str = 'vcek',
          mask_chip_key: bool = False) -> bytes:
    """An unsigned report of ``product`` ("Milan", "Genoa" or "Turin").

    ``tcb`` is the reported TCB by component; ``signing_key`` is "vcek",
    "vlek" or "none". Raises :class:`ValueError` for a field of the wrong
    size or an unknown version, product or signing key.
    """
    if version not in abi.VERSIONS or product not in CPUID:
        raise ValueError('no version %r report for product %r'
                         % (version, product))
    if signing_key not in _KEY_CODES:
        raise ValueError('unknown signing key %r' % signing_key)
    fields = (('report_data', _REPORT_DATA, report_data, 64),
              ('measurement', _MEASUREMENT, measurement, 48),
              ('host_data', _HOST_DATA, host_data, 32),
              ('report_id', _REPORT_ID, report_id, 32),
              ('chip_id', _CHIP_ID, chip_id, 64))
    data = bytearray(abi.REPORT_SIZE)
    for name, offset, value, size in fields:
        if len(value) != size:
            raise ValueError('%s must be %d bytes, not %d'
                             % (name, size, len(value)))
        data[offset:offset + size] = value
    key_info = _KEY_CODES[signing_key] << 2 | (
        _MASK_CHIP_KEY if mask_chip_key else 0)
    struct.pack_into('<IIQ', data, 0, version, guest_svn, policy)
    struct.pack_into('<II', data, 0x30, vmpl, abi.ECDSA_P384_SHA384)
    struct.pack_into('<I', data, 0x48, key_info)
    tcb_value = encode_tcb(tcb, product)
    for offset in (_CURRENT_TCB, _REPORTED_TCB, _COMMITTED_TCB, _LAUNCH_TCB):
        struct.pack_into('<Q', data, offset, tcb_value)
    if version >= 3:
        data[_CPUID:_CPUID + 3] = bytes(CPUID[product])
    return bytes(data)


def sign(report: bytes, key: ec.EllipticCurvePrivateKey) -> bytes:
    """``report`` with its signature (R, S little-endian) made by ``key``.

    Raises :class:`ValueError` for a report the firmware leaves unsigned
    (signing key "none" or MASK_CHIP_KEY set).
    """
    parsed = abi.parse(report)
    if parsed.signing_key == 'none' or parsed.mask_chip_key:
        raise ValueError('the firmware does not sign a report whose '
                         'signing key is none or whose chip key is masked')
    der = key.sign(report[:abi.SIGNED_SIZE], ec.ECDSA(hashes.SHA384()))
    r, s = utils.decode_dss_signature(der)
    size = abi.COMPONENT_SIZE
    return (report[:abi.SIGNATURE_OFFSET] + r.to_bytes(size, 'little')
            + s.to_bytes(size, 'little')
            + report[abi.SIGNATURE_OFFSET + 2 * size:])
