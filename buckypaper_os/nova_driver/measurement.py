"""Expected launch measurements, as the driver needs them.

The driver depends only on the small :class:`Measurer` interface below.
:class:`AttestationMeasurer` implements it with
:mod:`buckypaper_os.attestation.snp.measure` (SNP launch digest) and
:mod:`buckypaper_os.attestation.tdx.measure` (MRTD); tests substitute
their own through :func:`set_measurer`. A measurement that cannot be
computed is an error, never an empty reference value: the guest does not
boot.
"""

import dataclasses
import importlib
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


#: Names tried, in order, in the attestation measure modules.
_SNP_FUNCTIONS = ('launch_digest', 'measure', 'snp_launch_digest')
_TDX_FUNCTIONS = ('mrtd', 'measure', 'compute_mrtd')


def _function(module_name: str, names: typing.Sequence[str]):
    try:
        module = importlib.import_module(module_name)
    except ImportError as exc:
        raise MeasurementError('%s is not available: %s'
                               % (module_name, exc)) from None
    for name in names:
        function = getattr(module, name, None)
        if callable(function):
            return function
    raise MeasurementError('%s has none of %s' % (module_name,
                                                  ', '.join(names)))


class AttestationMeasurer:
    """:class:`Measurer` backed by ``buckypaper_os.attestation``."""

    def snp(self, launch: SNPLaunch) -> bytes:
        function = _function('buckypaper_os.attestation.snp.measure',
                             _SNP_FUNCTIONS)
        kwargs = {'vcpus': launch.vcpus, 'vcpu_type': launch.vcpu_type}
        if launch.kernel is not None:
            kwargs.update(kernel=_read(launch.kernel),
                          initrd=_read(launch.initrd) if launch.initrd
                          else b'', cmdline=launch.cmdline or '')
        return _checked(function(launch.firmware, **kwargs), 'SNP')

    def tdx(self, launch: TDXLaunch) -> bytes:
        function = _function('buckypaper_os.attestation.tdx.measure',
                             _TDX_FUNCTIONS)
        return _checked(function(launch.firmware), 'TDX')


def _read(path: str) -> bytes:
    try:
        with open(path, 'rb') as f:
            return f.read()
    except OSError as exc:
        raise MeasurementError('cannot read %s: %s' % (path, exc.strerror)
                               ) from None


def _checked(value, what: str) -> bytes:
    if isinstance(value, str):
        value = bytes.fromhex(value)
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
