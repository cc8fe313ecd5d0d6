"""Options of the Vault (``[buckypaper_vault]``, read by Barbican's API)
and of Nitride's release relay to Barbican (``[nitride_release]``).

The relay's credentials are keystoneauth1's standard auth and session
options in ``[nitride_release]``.
"""

from keystoneauth1 import loading as ks_loading
from oslo_config import cfg

from buckypaper_os.conf import groups

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
    cfg.ListOpt('nitride_decision_key_files', default=[],
                help='PEM files with the public halves of Nitride\'s '
                     'decision keys ([nitride] decision_key_file; during a '
                     'rotation the old and the new one). Nitride signs '
                     'each yes over the Vault\'s fresh challenge, the '
                     'ticket, the secret, its policy and the TEE key; the '
                     'Vault releases only on such a signature and seals to '
                     'that key, so that a forged answer on the message bus '
                     'releases nothing. Required: without them every '
                     'release of a bound secret is refused.'),
]

RELEASE_GROUP = cfg.OptGroup(
    'nitride_release', title='Nitride release relay to Barbican',
    help='How the guest API\'s POST /v1/release fetches a sealed secret '
         'from Barbican as Nitride\'s service user: the keystoneauth '
         'options of that user (auth_type = password, auth_url, username, '
         'password, project_name, ...; session options such as cafile and '
         'timeout, 15 seconds when unset) and where Barbican is. Without '
         'auth_type the release call answers 503.')

RELEASE_OPTS = [
    cfg.URIOpt('barbican_endpoint', schemes=['http', 'https'],
               help='Base URL of Barbican\'s API, e.g. https://barbican:'
                    '9311, overriding the internal key-manager endpoint '
                    'of the service catalog.'),
    cfg.StrOpt('transport_key_id',
               help='Barbican transport key id of the Vault plugin, sent '
                    'with each ticket (Barbican requires one). Looked up '
                    'once when unset.'),
    cfg.DictOpt('test_identity_headers', default={},
                help='FOR TESTS AND DEMOS ONLY, never in production: '
                     'fixed Keystone-style identity headers (X-Project-Id, '
                     'X-User-Id, X-Roles, X-Identity-Status) sent to a '
                     'Barbican that runs without keystonemiddleware, '
                     'with auth_type = none.'),
]


def register_opts(conf: cfg.ConfigOpts) -> None:
    """Register both groups on ``conf``."""
    groups.register(conf, GROUP)
    conf.register_opts(OPTS, group=GROUP)
    groups.register(conf, RELEASE_GROUP)
    conf.register_opts(RELEASE_OPTS, group=RELEASE_GROUP)
    ks_loading.register_auth_conf_options(conf, RELEASE_GROUP.name)
    ks_loading.register_session_conf_options(conf, RELEASE_GROUP.name)


def keystone_opts() -> list:
    """keystoneauth's own options of the relay's group, for the sample.

    Its session and common auth options and those of the ``password``
    plugin, as Nova lists the options of its service users.
    """
    return (ks_loading.get_session_conf_options()
            + ks_loading.get_auth_common_conf_options()
            + ks_loading.get_auth_plugin_conf_options('password'))


def list_opts():
    """The groups of this module, for oslo-config-generator."""
    return {GROUP: OPTS, RELEASE_GROUP: RELEASE_OPTS + keystone_opts()}
