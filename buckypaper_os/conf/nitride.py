"""Options of the ``[nitride]`` group: tokens and nonces of the verifier.

The verifier's database is configured in the standard ``[database]`` group
of oslo.db; :func:`register_opts` gives its ``connection`` a SQLite default.
"""

import socket

from oslo_config import cfg
from oslo_db import options as db_options

from buckypaper_os.conf import groups

DEFAULT_CONNECTION = 'sqlite:////var/lib/buckypaper/nitride.sqlite'

GROUP = cfg.OptGroup(
    'nitride', title='Nitride attestation verifier service',
    help='Signing of attestation result tokens and guest challenges. The '
         'database is set in [database] connection (default %s).'
         % DEFAULT_CONNECTION)

OPTS = [
    cfg.StrOpt('token_key_file',
               help='PEM file with the ECDSA P-384 private key (PKCS#8 or '
                    'SEC1, unencrypted) that signs attestation tokens '
                    '(JWS ES384). Keep it readable by the Nitride user '
                    'only.'),
    cfg.StrOpt('token_mldsa_key_file',
               help='PEM file with an ML-DSA-65 private key (PKCS#8). When '
                    'set, every token carries a second, post-quantum '
                    'signature beside the ES384 one and is issued in the '
                    'JWS JSON serialization.'),
    cfg.ListOpt('token_previous_key_files', default=[],
                help='PEM files with public (or private) keys of retired '
                     'token signing keys, ECDSA P-384 or ML-DSA-65. They '
                     'stay published in the JWKS and accepted by '
                     'verification until the tokens they signed expire.'),
    cfg.StrOpt('allowed_measurements_file',
               help='File of the launch measurements (SEV-SNP MEASUREMENT, '
                    'TDX MRTD) that registrations may name: one per line, '
                    'hex of 48 bytes, # comments. Anyone with broker '
                    'credentials, every nova-compute host included, can '
                    'register an instance; with this file they can '
                    'register only measurements the operator approved '
                    '(SEV-SNP: computed with buckypaper-measure with the '
                    'kernel, initrd and command line, for each flavor; a '
                    'firmware-only measurement or a TDX MRTD does not pin '
                    'the guest OS). Other registrations are refused '
                    'and audited, and an instance none of whose registered '
                    'measurements is still listed fails attestation. '
                    'Unset: any measurement may be registered. Read at '
                    'start by the workers and the guest API; keep it on '
                    'the Nitride hosts, writable by root only.'),
    cfg.StrOpt('decision_key_file',
               help='PEM file with the Ed25519 private key (PKCS#8, '
                    'unencrypted) that signs the workers\' release '
                    'decisions for the Vault; its public half goes into '
                    '[buckypaper_vault] nitride_decision_key_files of '
                    'Barbican. Without it every release through the Vault '
                    'is refused. Read by the RPC workers only, never by the '
                    'guest API; it must be mode 0600 (readable by the '
                    'Nitride user only) or the workers refuse to start.'),
    cfg.BoolOpt('token_require_mldsa', default=False,
                help='Accept only tokens that carry a valid ML-DSA-65 '
                     'signature in addition to the ES384 one.'),
    cfg.IntOpt('token_lifetime', default=300, min=1,
               help='Seconds an attestation token stays valid after it is '
                    'issued, unless [attestation] policy_file sets '
                    'token_lifetime. Project, flavor and instance policies '
                    'may shorten it, never lengthen it.'),
    cfg.IntOpt('token_leeway', default=30, min=0,
               help='Seconds of clock skew tolerated when checking the '
                    'iat and exp claims of a token.'),
    cfg.IntOpt('nonce_lifetime', default=60, min=1,
               help='Seconds a challenge nonce may be used after it is '
                    'issued. Nonces are single use.'),
    cfg.IntOpt('nonce_purge_interval', default=300, min=1,
               help='Seconds between two deletions of expired challenge '
                    'nonces by each RPC worker, so that the nonce table '
                    'holds little more than the nonces that may still be '
                    'used.'),
    cfg.IntOpt('challenges_per_minute', default=30, min=1,
               max=60 * 1000 * 1000,
               help='Sustained rate of challenges one instance may ask '
                    'for, per minute; more are refused (HTTP 429 with '
                    'Retry-After) and audited, so that a guest cannot '
                    'flood the verifier or the nonce table. The limit is '
                    'kept in the database: every guest API process and '
                    'host sharing it enforces one limit together.'),
    cfg.IntOpt('challenge_burst', default=5, min=1, max=1000,
               help='Challenges one instance may ask for in quick '
                    'succession before challenges_per_minute applies.'),
    cfg.IntOpt('releases_per_minute', default=30, min=1,
               max=60 * 1000 * 1000,
               help='Sustained rate of POST /v1/release requests one '
                    'instance may make with its tickets, per minute; more '
                    'are refused (HTTP 429 with Retry-After) and audited '
                    'before Barbican is asked, so that a guest holding a '
                    'ticket cannot make Barbican and the workers work '
                    'without bound through the guest API. Kept in the '
                    'database like challenges_per_minute.'),
    cfg.IntOpt('release_burst', default=10, min=1, max=1000,
               help='Releases one instance may ask for in quick '
                    'succession (a key per encrypted disk at boot) before '
                    'releases_per_minute applies.'),
    cfg.StrOpt('topic', default='nitride',
               help='oslo.messaging topic of the Nitride RPC service. '
                    'Every worker on the same topic and database serves '
                    'as one.'),
    cfg.IntOpt('rpc_timeout', default=30, min=1,
               help='Seconds a caller of the Nitride RPC API (Nova, the '
                    'Barbican plugin) waits for an answer. No answer is '
                    'an error and never a release.'),
    cfg.IntOpt('rpc_retries', default=2, min=0,
               help='How often a caller of the Nitride RPC API retries '
                    'connecting to a broker that is down before it gives '
                    'up with an error (never a release).'),
    cfg.BoolOpt('release_on_warning', default=False,
                help='Authorize key release for an attestation graded '
                     'warning (genuine TEE whose TDX TCB is not '
                     'UpToDate). By default only affirming attestations '
                     'release keys.'),
    cfg.ListOpt('nova_notification_topics', default=[],
                help='Topics of Nova\'s notifications to listen to, e.g. '
                     'versioned_notifications (Nova\'s [notifications] '
                     'notification_format versioned or both) or '
                     'notifications (unversioned); list one, since Nova '
                     'with both formats sends every event twice. Workers '
                     'then remove '
                     'each instance Nova deleted, also when its compute '
                     'host was down and no driver called '
                     'remove_instance. Empty: not listening.'),
    cfg.StrOpt('nova_notification_transport_url', secret=True,
               help='Transport URL of Nova\'s notifications. Default: '
                    '[oslo_messaging_notifications] transport_url, else '
                    '[DEFAULT] transport_url.'),
    cfg.StrOpt('simulated_tee_trust_dir',
               help='Directory with the public ark.pem and ask.pem of a '
                    'simulated TEE (buckypaper-simulated-tee init). When '
                    'set, evidence signed by that simulated chain is '
                    'accepted and every result and token from it is '
                    'marked simulated. For tests and demos only: never '
                    'set this in production.'),
]

DEFAULT_OPTS = [
    cfg.StrOpt('host', default=socket.gethostname(),
               sample_default='<hostname>',
               help='Name of this Nitride worker on the message bus.'),
]

API_GROUP = cfg.OptGroup(
    'nitride_api', title='Nitride guest API',
    help='The HTTP API that guests use for challenges, attestation and '
         'key release. Run it behind a TLS-terminating proxy or a WSGI '
         'server (buckypaper_os.nitride_service.api.wsgi:application).')

API_OPTS = [
    cfg.HostAddressOpt('bind_host', default='127.0.0.1',
                       help='Address the development server of '
                            'buckypaper-nitride-api listens on.'),
    cfg.PortOpt('bind_port', default=9797,
                help='Port the development server of '
                     'buckypaper-nitride-api listens on.'),
    cfg.IntOpt('max_request_bytes', default=256 * 1024, min=1024,
               help='Largest request body accepted; larger ones are '
                    'refused (HTTP 413) before they are read.'),
    cfg.IntOpt('max_connections', default=256, min=1,
               help='Connections the development server of '
                    'buckypaper-nitride-api serves at once, one thread '
                    'each; more are answered 503 with Retry-After at '
                    'once. With max_request_bytes and the limits on the '
                    'request line and headers it bounds the memory '
                    'clients can make the server hold.'),
]


def register_opts(conf: cfg.ConfigOpts) -> None:
    """Register the group's options and the [database] defaults.

    Inside another service (nova-compute loads our driver) ``[DEFAULT]
    host`` is already that service's own hostname option; it is kept.
    """
    try:
        conf.register_opts(DEFAULT_OPTS)
    except cfg.DuplicateOptError:
        pass
    groups.register(conf, GROUP)
    conf.register_opts(OPTS, group=GROUP)
    groups.register(conf, API_GROUP)
    conf.register_opts(API_OPTS, group=API_GROUP)
    set_defaults(conf)


def set_defaults(conf: cfg.ConfigOpts) -> None:
    """Nitride's defaults for options of other libraries ([database])."""
    db_options.set_defaults(conf, connection=DEFAULT_CONNECTION)


def list_opts():
    """The groups and their options, for oslo-config-generator."""
    return {'DEFAULT': DEFAULT_OPTS, GROUP: OPTS, API_GROUP: API_OPTS}
