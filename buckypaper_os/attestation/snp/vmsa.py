"""The initial VMSA pages of an SEV-SNP guest, as the VMM sets them.

The VMSA (AMD APM vol. 2, table B-4, "VMSA layout, state save area for
SEV-ES") holds a vCPU's register state at launch. QEMU/KVM put the BSP at
the reset vector (``0xfffffff0``) and the APs at the EIP from OVMF's SEV-ES
reset block, with the architectural reset values plus what KVM forces
(EFER.SVME, CR4.MCE) and the CPUID signature (family/model/stepping) in
RDX. Other VMMs differ slightly (:class:`VmmType`).
"""

import enum
import functools
import hashlib
import struct

from buckypaper_os.attestation.firmware import FirmwareError

PAGE_SIZE = 4096
BSP_EIP = 0xfffffff0

# Offsets in the save area (APM vol. 2, table B-4).
_SEGMENTS = ('es', 'cs', 'ss', 'ds', 'fs', 'gs', 'gdtr', 'ldtr', 'idtr',
             'tr')
_SEGMENT = struct.Struct('<HHIQ')   # selector, attrib, limit, base
_U64 = struct.Struct('<Q')
_OFF = {
    'efer': 0xd0, 'cr4': 0x148, 'cr0': 0x158, 'dr7': 0x160, 'dr6': 0x168,
    'rflags': 0x170, 'rip': 0x178, 'g_pat': 0x268, 'rdx': 0x310,
    'sev_features': 0x3b0, 'xcr0': 0x3e8,
}
_MXCSR = (0x408, struct.Struct('<I'))
_X87_FCW = (0x410, struct.Struct('<H'))

#: PAT MSR reset value (APM vol. 2, section A.3).
_PAT_RESET = 0x0007040600070406


class VmmType(enum.Enum):
    """The VMM whose initial register state the VMSA reflects."""

    QEMU = 'qemu'
    EC2 = 'ec2'
    GCE = 'gce'


def cpu_signature(family: int, model: int, stepping: int) -> int:
    """CPUID Fn0000_0001_EAX from family, model and stepping.

    AMD CPUID specification (#25481): families above 0xf are encoded as
    0xf plus an extended family; models as low and extended nibbles.
    """
    if family > 0xf:
        base_family, ext_family = 0xf, family - 0xf
    else:
        base_family, ext_family = family, 0
    return ((ext_family & 0xff) << 20 | ((model >> 4) & 0xf) << 16
            | base_family << 8 | (model & 0xf) << 4 | (stepping & 0xf))


_EPYC = cpu_signature(23, 1, 2)
_ROME = cpu_signature(23, 49, 0)
_MILAN = cpu_signature(25, 1, 1)
_GENOA = cpu_signature(25, 17, 0)

#: QEMU's built-in AMD EPYC CPU models and their CPUID signatures.
CPU_MODELS = {
    'EPYC': _EPYC, 'EPYC-v1': _EPYC, 'EPYC-v2': _EPYC, 'EPYC-IBPB': _EPYC,
    'EPYC-v3': _EPYC, 'EPYC-v4': _EPYC,
    'EPYC-Rome': _ROME, 'EPYC-Rome-v1': _ROME, 'EPYC-Rome-v2': _ROME,
    'EPYC-Rome-v3': _ROME,
    'EPYC-Milan': _MILAN, 'EPYC-Milan-v1': _MILAN, 'EPYC-Milan-v2': _MILAN,
    'EPYC-Genoa': _GENOA, 'EPYC-Genoa-v1': _GENOA,
    'EPYC-Turin': cpu_signature(26, 0, 0),
}


def cpu_model_signature(name: str) -> int:
    """The CPUID signature of a QEMU CPU model name."""
    try:
        return CPU_MODELS[name]
    except KeyError:
        raise FirmwareError('unknown CPU model %r (known: %s)'
                            % (name, ', '.join(sorted(CPU_MODELS)))) from None


def _segment(page: bytearray, name: str, selector: int, attrib: int,
             limit: int, base: int) -> None:
    _SEGMENT.pack_into(page, _SEGMENTS.index(name) * _SEGMENT.size,
                       selector, attrib, limit, base)


def build(eip: int, sev_features: int, cpu_sig: int,
          vmm: VmmType = VmmType.QEMU) -> bytes:
    """The 4 KiB VMSA page of a vCPU starting at ``eip``."""
    cs_attrib, ss_attrib, tr_attrib = 0x9b, 0x93, 0x8b
    g_pat, rdx, mxcsr, fcw = _PAT_RESET, cpu_sig, 0x1f80, 0x37f
    if vmm is VmmType.EC2:
        # EC2's reset state: other segment attributes, RDX and no FPU
        # reset values.
        cs_attrib = 0x9a if eip == BSP_EIP else 0x9b
        ss_attrib, tr_attrib = 0x92, 0x83
        rdx, mxcsr, fcw = 0x600, 0, 0
    elif vmm is VmmType.GCE:
        # GCE's hypervisor sets its own PAT.
        g_pat, rdx, mxcsr, fcw = 0x00070106, 0x600, 0, 0
    page = bytearray(PAGE_SIZE)
    for name in ('es', 'ds', 'fs', 'gs'):
        _segment(page, name, 0, 0x93, 0xffff, 0)
    _segment(page, 'cs', 0xf000, cs_attrib, 0xffff, eip & 0xffff0000)
    _segment(page, 'ss', 0, ss_attrib, 0xffff, 0)
    _segment(page, 'gdtr', 0, 0, 0xffff, 0)
    _segment(page, 'idtr', 0, 0, 0xffff, 0)
    _segment(page, 'ldtr', 0, 0x82, 0xffff, 0)
    _segment(page, 'tr', 0, tr_attrib, 0xffff, 0)
    values = {
        'efer': 0x1000,        # EFER.SVME, set by KVM
        'cr4': 0x40,           # CR4.MCE, set by KVM
        'cr0': 0x10,           # CR0.ET
        'dr7': 0x400, 'dr6': 0xffff0ff0, 'rflags': 0x2,
        'rip': eip & 0xffff, 'g_pat': g_pat, 'rdx': rdx,
        'sev_features': sev_features, 'xcr0': 0x1,
    }
    for name, value in values.items():
        _U64.pack_into(page, _OFF[name], value)
    _MXCSR[1].pack_into(page, _MXCSR[0], mxcsr)
    _X87_FCW[1].pack_into(page, _X87_FCW[0], fcw)
    return bytes(page)


@functools.lru_cache(maxsize=256)
def page_digest(eip: int, sev_features: int, cpu_sig: int,
                vmm: VmmType = VmmType.QEMU) -> bytes:
    """SHA-384 of :func:`build`'s page (what the launch digest takes)."""
    return hashlib.sha384(build(eip, sev_features, cpu_sig, vmm)).digest()
