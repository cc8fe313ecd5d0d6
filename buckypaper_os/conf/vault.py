"""Options of the Vault (``[buckypaper_vault]``, read by Barbican's API)
and of Nitride's release relay to Barbican (``[nitride_release]``).
"""

from oslo_config import cfg

GROUP = cfg.OptGroup(
    'buckypaper_vault', title='buckypaper Vault secret store (Barbican)',
    help='The Barbican secret store plugin that keeps secrets envelope-'
         'encrypted and releases bound secrets only HPKE-sealed to a TEE '
         'that Nitride attested. Read from barbican.conf.')

OPTS = [
    cfg.StrOpt('plugin_name', default='buckypaper Vault',
               help='Name of the secret store shown by Barbican; unique in '
                    'a deployment.'),
    cfg.StrOpt('connection', secret=True,
               help='SQLAlchemy URL of the database holding the wrapped '
                    'project keys and the encrypted secrets (e.g. '
                    'Barbican\'s own database, or sqlite:////var/lib/'
                    'barbican/vault.sqlite). Required.'),
    cfg.ListOpt('kek_files', default=[],
                help='Files with the 32-byte key-encryption keys, oldest '
                     'first; the last one wraps new project keys. Keep an '
                     'old file listed until buckypaper-vault-rotate-kek '
                     'reports that no key uses it. Required.'),
    cfg.StrOpt('transport_url', secret=True,
               help='oslo.messaging URL of the RabbitMQ that Nitride '
                    'listens on (default: [DEFAULT] transport_url).'),
    cfg.StrOpt('nitride_topic', default='nitride',
               help='RPC topic of the Nitride workers.'),
    cfg.IntOpt('rpc_timeout', default=10, min=1,
               help='Seconds to wait for Nitride\'s release decision; no '
                    'answer in time refuses the release.'),
]

RELEASE_GROUP = cfg.OptGroup(
    'nitride_release', title='Nitride release relay to Barbican',
    help='How the guest API\'s POST /v1/release fetches a sealed secret '
         'from Barbican as Nitride\'s service user.')

RELEASE_OPTS = [
    cfg.StrOpt('barbican_endpoint',
               help='Base URL of Barbican\'s API, e.g. https://barbican:'
                    '9311. The release call answers 503 when unset.'),
    cfg.StrOpt('transport_key_id',
               help='Barbican transport key id of the Vault plugin, sent '
                    'with each ticket (Barbican requires one).'),
    cfg.DictOpt('headers', default={}, secret=True,
                help='Extra HTTP headers of each Barbican request, e.g. '
                     'X-Auth-Token:<token of the Nitride service user>.'),
    cfg.IntOpt('timeout', default=15, min=1,
               help='Seconds to wait for Barbican.'),
]


def register_opts(conf: cfg.ConfigOpts) -> None:
    """Register both groups on ``conf``."""
    conf.register_group(GROUP)
    conf.register_opts(OPTS, group=GROUP)
    conf.register_group(RELEASE_GROUP)
    conf.register_opts(RELEASE_OPTS, group=RELEASE_GROUP)


def list_opts():
    """The groups of this module, for oslo-config-generator."""
    return {GROUP: OPTS, RELEASE_GROUP: RELEASE_OPTS}
