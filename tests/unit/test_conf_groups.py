"""Two ConfigOpts with buckypaper-os's groups share no overrides."""

from oslo_config import cfg

from buckypaper_os import conf as bp_conf
from buckypaper_os.conf import attestation
from buckypaper_os.conf import compute
from buckypaper_os.conf import nitride
from buckypaper_os.conf import vault


def test_an_override_on_another_configopts_stays_there():
    other = cfg.ConfigOpts()
    for module in (attestation, compute, nitride, vault):
        module.register_opts(other)
    other([], project='buckypaper-test')
    bp_conf.CONF([], project='buckypaper', default_config_files=[])
    overrides = [('nitride', 'token_mldsa_key_file', '/tmp/leak.pem'),
                 ('nitride_api', 'bind_port', 1),
                 ('buckypaper_vault', 'nitride_topic', 'leak'),
                 ('nitride_release', 'barbican_endpoint', 'http://leak')]
    try:
        for group, name, value in overrides:
            other.set_override(name, value, group)
            assert other[group][name] == value
            assert bp_conf.CONF[group][name] != value, (group, name)
    finally:
        for group, name, _ in overrides:
            other.clear_override(name, group)
