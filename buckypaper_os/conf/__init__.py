"""oslo.config options of buckypaper-os, one module per group."""

from oslo_config import cfg

from buckypaper_os.conf import attestation
from buckypaper_os.conf import compute
from buckypaper_os.conf import nitride
from buckypaper_os.conf import vault

CONF = cfg.CONF

attestation.register_opts(CONF)
compute.register_opts(CONF)
nitride.register_opts(CONF)
vault.register_opts(CONF)
