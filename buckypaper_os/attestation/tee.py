"""The TEE plugin interface and its stevedore registry.

Each TEE is one folder under ``attestation/`` whose ``tee`` module holds a
:class:`TEE` subclass registered in the ``buckypaper_os.attestation.tee``
namespace. A new TEE needs nothing else.
"""

import abc
import datetime
import functools
import typing

from stevedore import extension

from buckypaper_os.attestation import errors
from buckypaper_os.attestation import policy as policy_mod
from buckypaper_os.attestation import result

NAMESPACE = 'buckypaper_os.attestation.tee'


class Collateral(typing.Protocol):
    """Read access to a collateral directory (see :mod:`.collateral_dir`)."""

    def read(self, name: str) -> typing.Optional[bytes]:
        """The bytes of file ``name``, or None when absent."""


class TEE(abc.ABC):
    """One kind of trusted execution environment."""

    #: The name used on the command line and in results.
    name: str = ''

    @abc.abstractmethod
    def recognizes(self, evidence: bytes) -> bool:
        """True if ``evidence`` looks like this TEE's format."""

    @abc.abstractmethod
    def appraise(self, evidence: bytes, *, certs: typing.Sequence[bytes],
                 collateral: typing.Optional[Collateral],
                 at: datetime.datetime,
                 policy: policy_mod.Policy) -> result.AttestationResult:
        """Parse, verify and validate ``evidence``.

        Raises :class:`~.errors.EvidenceError` when the evidence cannot be
        parsed; every other failure is a contraindicated result.
        """


@functools.lru_cache(maxsize=None)
def registry() -> typing.Dict[str, TEE]:
    """All TEE plugins installed in the stevedore namespace, by name."""
    manager = extension.ExtensionManager(
        NAMESPACE, invoke_on_load=True,
        on_load_failure_callback=_load_failed)
    return {ext.name: ext.obj for ext in manager}


def _load_failed(manager, entrypoint, exc: Exception) -> None:
    """A TEE plugin that fails to load is an installation error: raise."""
    raise exc


def get(name: typing.Optional[str], evidence: bytes) -> TEE:
    """The plugin ``name``, or the one that recognizes ``evidence``."""
    plugins = registry()
    if name is not None:
        try:
            return plugins[name]
        except KeyError:
            raise errors.EvidenceError(
                'unknown TEE %r (known: %s)'
                % (name, ', '.join(sorted(plugins)))) from None
    for plugin in plugins.values():
        if plugin.recognizes(evidence):
            return plugin
    raise errors.EvidenceError(
        'evidence of %d bytes is neither %s' % (
            len(evidence), ' nor '.join(sorted(plugins))))
