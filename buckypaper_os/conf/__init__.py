"""oslo.config options of buckypaper-os, one module per group."""

from oslo_config import cfg

from buckypaper_os.conf import attestation
from buckypaper_os.conf import nitride

CONF = cfg.CONF

attestation.register_opts(CONF)
nitride.register_opts(CONF)
