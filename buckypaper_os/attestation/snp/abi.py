"""The SEV-SNP ATTESTATION_REPORT (AMD SEV-SNP ABI specification, table 23).

Versions 2 to 5 are accepted. Version 3 adds CPUID_FAM_ID / MOD_ID / STEP
at 0x188..0x18A; version 4 (firmware 1.55.x in the field) has version 3's
layout; version 5 adds the launch and current mitigation vectors at 0x1F8 /
0x200.

Only what makes the layout unknowable is a parse error (length, version,
signing-key encoding). A report whose reserved fields are not zero, or that
names another signature algorithm, parses with those ``anomalies`` listed:
it is not genuine, and verification says so with the claims still shown.
"""

import dataclasses
import struct
import typing

from buckypaper_os.attestation import errors

REPORT_SIZE = 0x4A0
SIGNED_SIZE = 0x2A0
SIGNATURE_OFFSET = 0x2A0
#: R and S are 72-byte little-endian integers (P-384 uses the low 48).
COMPONENT_SIZE = 0x48
VERSIONS = (2, 3, 4, 5)
ECDSA_P384_SHA384 = 1
#: Guest policy bit 18: a migration agent may be associated with the guest.
POLICY_MIGRATE_MA = 1 << 18
#: Guest policy bit 19: debugging allowed.
POLICY_DEBUG = 1 << 19

MILAN, GENOA, TURIN = 'Milan', 'Genoa', 'Turin'
PRODUCTS = (MILAN, GENOA, TURIN)

SIGNING_KEYS = {0: 'vcek', 1: 'vlek', 7: 'none'}

_HEAD = struct.Struct('<IIQ16s16sIIQQII')       # 0x00 .. 0x50
_TCB = struct.Struct('<Q')

# Reserved ranges that must be zero, per version (start, end).
_RESERVED_COMMON = ((0x1EB, 0x1EC), (0x1EF, 0x1F0),
                    (SIGNATURE_OFFSET + 2 * COMPONENT_SIZE, REPORT_SIZE))
_RESERVED = {
    2: ((0x188, 0x1A0), (0x1F8, SIGNED_SIZE)) + _RESERVED_COMMON,
    3: ((0x18B, 0x1A0), (0x1F8, SIGNED_SIZE)) + _RESERVED_COMMON,
    4: ((0x18B, 0x1A0), (0x1F8, SIGNED_SIZE)) + _RESERVED_COMMON,
    5: ((0x18B, 0x1A0), (0x208, SIGNED_SIZE)) + _RESERVED_COMMON,
}


@dataclasses.dataclass(frozen=True)
class Report:
    """The fields of one report that verification and appraisal use."""

    raw: bytes
    version: int
    guest_svn: int
    policy: int
    vmpl: int
    signing_key: str
    mask_chip_key: bool
    cpuid: typing.Optional[typing.Tuple[int, int, int]]
    reported_tcb: int
    #: Departures from the specification that make the report not genuine.
    anomalies: typing.Tuple[str, ...] = ()

    @property
    def signed(self) -> memoryview:
        """Bytes 0x000..0x29F, covered by the signature."""
        return memoryview(self.raw)[:SIGNED_SIZE]

    @property
    def r(self) -> int:
        return int.from_bytes(self.raw[0x2A0:0x2E8], 'little')

    @property
    def s(self) -> int:
        return int.from_bytes(self.raw[0x2E8:0x330], 'little')

    @property
    def report_data(self) -> bytes:
        return self.raw[0x50:0x90]

    @property
    def measurement(self) -> bytes:
        return self.raw[0x90:0xC0]

    @property
    def host_data(self) -> bytes:
        return self.raw[0xC0:0xE0]

    @property
    def chip_id(self) -> bytes:
        return self.raw[0x1A0:0x1E0]

    @property
    def debug(self) -> bool:
        return bool(self.policy & POLICY_DEBUG)

    @property
    def cpuid_product(self) -> typing.Optional[str]:
        """The product named by CPUID family/model (v3+), else None."""
        return product_of_cpuid(*self.cpuid) if self.cpuid else None


def parse(data: bytes) -> Report:
    """Parse a raw report; :class:`EvidenceError` if it is not one."""
    if len(data) != REPORT_SIZE:
        raise errors.EvidenceError(
            'SEV-SNP report is %d bytes, expected %d'
            % (len(data), REPORT_SIZE))
    (version, guest_svn, policy, _family, _image, vmpl, sig_algo, _tcb,
     _platform, key_info, reserved) = _HEAD.unpack_from(data)
    if version not in VERSIONS:
        raise errors.EvidenceError(
            'SEV-SNP report version %d is not supported (known: 2 to 5)'
            % version)
    anomalies = []
    if sig_algo != ECDSA_P384_SHA384:
        anomalies.append('SEV-SNP report signature algorithm %d is not '
                         'ECDSA P-384 SHA-384 (1)' % sig_algo)
    if reserved or key_info >> 5:
        anomalies.append('SEV-SNP report reserved bits at 0x48..0x4F are '
                         'not zero')
    anomalies += ['SEV-SNP report reserved bytes 0x%X..0x%X are not zero'
                  % (start, end - 1) for start, end in _RESERVED[version]
                  if any(data[start:end])]
    key = (key_info >> 2) & 7
    if key not in SIGNING_KEYS:
        raise errors.EvidenceError(
            'SEV-SNP report signing key %d is reserved' % key)
    cpuid = tuple(data[0x188:0x18B]) if version >= 3 else None
    return Report(raw=bytes(data), version=version, guest_svn=guest_svn,
                  policy=policy, vmpl=vmpl, signing_key=SIGNING_KEYS[key],
                  mask_chip_key=bool(key_info & 2), cpuid=cpuid,
                  reported_tcb=_TCB.unpack_from(data, 0x180)[0],
                  anomalies=tuple(anomalies))


def product_of_cpuid(family: int, model: int,
                     _stepping: int = 0) -> typing.Optional[str]:
    """Milan, Genoa (incl. Bergamo/Siena) or Turin from CPUID, else None."""
    if family == 0x19:
        if model <= 0x0F:
            return MILAN
        if 0x10 <= model <= 0x1F or 0xA0 <= model <= 0xAF:
            return GENOA
    elif family == 0x1A and model <= 0x1F:
        return TURIN
    return None


def decode_tcb(value: int, product: typing.Optional[str]) -> dict:
    """TCB_VERSION components; Turin has an FMC and a different layout."""
    b = value.to_bytes(8, 'little')
    if product == TURIN:
        return {'fmc': b[0], 'bl': b[1], 'tee': b[2], 'snp': b[3],
                'ucode': b[7]}
    return {'bl': b[0], 'tee': b[1], 'snp': b[6], 'ucode': b[7]}


def claims(report: Report, product: typing.Optional[str]) -> dict:
    """The claims of a report, lowercase hex as the vectors document."""
    return {'measurement': report.measurement.hex(),
            'report_data': report.report_data.hex(),
            'host_data': report.host_data.hex(),
            'chip_id': report.chip_id.hex(),
            'policy': hex(report.policy),
            'vmpl': report.vmpl,
            'version': report.version,
            'product': product,
            'signing_key': report.signing_key,
            'reported_tcb': decode_tcb(report.reported_tcb, product)}
