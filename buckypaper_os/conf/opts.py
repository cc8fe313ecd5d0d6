"""Entry point of oslo-config-generator (namespace ``buckypaper_os``)."""

from oslo_config import cfg

from buckypaper_os.conf import attestation
from buckypaper_os.conf import compute
from buckypaper_os.conf import nitride
from buckypaper_os.conf import vault

_MODULES = (attestation, compute, nitride, vault)


def set_defaults() -> None:
    """oslo.config.opts.defaults hook: our defaults of library options."""
    nitride.set_defaults(cfg.CONF)


def list_opts():
    """All option groups of buckypaper-os as (group, options) pairs."""
    return [(group, opts) for module in _MODULES
            for group, opts in module.list_opts().items()]
