"""Expected launch measurements, as the driver needs them.

The driver depends only on the small :class:`Measurer` interface below.
:class:`AttestationMeasurer` implements it with
:mod:`buckypaper_os.attestation.snp.measure` (SNP launch digest) and
:mod:`buckypaper_os.attestation.tdx.measure` (MRTD); tests may substitute
their own through :func:`set_measurer`. A measurement that cannot be
computed is an error, never an empty reference value: the guest does not
boot.
"""

import dataclasses
import typing


class MeasurementError(RuntimeError):
    """No expected measurement could be computed; the message says why."""


@dataclasses.dataclass(frozen=True)
class SNPLaunch:
    """Inputs of an SNP launch digest.

    ``kernel`` and ``initrd`` are paths of a direct kernel boot (their
    hashes go into the launch with ``kernelHashes``), or None.
    """

    firmware: bytes
    vcpus: int
    vcpu_type: str
    kernel: typing.Optional[str] = None
    initrd: typing.Optional[str] = None
    cmdline: typing.Optional[str] = None


@dataclasses.dataclass(frozen=True)
class TDXLaunch:
    """Inputs of a TDX MRTD."""

    firmware: bytes


class Measurer(typing.Protocol):
    """Computes expected launch measurements (48 bytes each)."""

    def snp(self, launch: SNPLaunch) -> bytes:
        ...

    def tdx(self, launch: TDXLaunch) -> bytes:
        ...


class AttestationMeasurer:
    """:class:`Measurer` backed by ``buckypaper_os.attestation``.

    SNP: ``snp.measure.launch_digest`` with QEMU's VMSA for ``vcpu_type``
    and, for direct kernel boot, ``snp.kernel_hashes.KernelHashes`` of the
    kernel, initrd and command line. TDX: ``tdx.measure.mrtd``.
    """

    def snp(self, launch: SNPLaunch) -> bytes:
        from buckypaper_os.attestation.firmware import FirmwareError
        from buckypaper_os.attestation.snp import kernel_hashes
        from buckypaper_os.attestation.snp import measure
        try:
            hashes = None
            if launch.kernel is not None:
                hashes = kernel_hashes.KernelHashes.from_files(
                    launch.kernel, launch.initrd, launch.cmdline or '')
            digest = measure.launch_digest(
                launch.firmware, launch.vcpus, cpu_model=launch.vcpu_type,
                kernel_hashes=hashes)
        except (FirmwareError, OSError) as exc:
            raise MeasurementError(str(exc)) from None
        return _checked(digest, 'SNP')

    def tdx(self, launch: TDXLaunch) -> bytes:
        from buckypaper_os.attestation.firmware import FirmwareError
        from buckypaper_os.attestation.tdx import measure
        try:
            digest = measure.mrtd(launch.firmware)
        except FirmwareError as exc:
            raise MeasurementError(str(exc)) from None
        return _checked(digest, 'TDX')


def _checked(value, what: str) -> bytes:
    if not isinstance(value, (bytes, bytearray)) or len(value) != 48:
        raise MeasurementError('%s measurement is not 48 bytes' % what)
    return bytes(value)


_measurer: Measurer = AttestationMeasurer()


def get_measurer() -> Measurer:
    return _measurer


def set_measurer(measurer: Measurer) -> Measurer:
    """Use ``measurer`` from now on; returns the previous one."""
    global _measurer
    previous, _measurer = _measurer, measurer
    return previous
