"""Options of the ``[nitride]`` group: tokens and nonces of the verifier.

The verifier's database is configured in the standard ``[database]`` group
of oslo.db; :func:`register_opts` gives its ``connection`` a SQLite default.
"""

from oslo_config import cfg
from oslo_db import options as db_options

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
    cfg.BoolOpt('token_require_mldsa', default=False,
                help='Accept only tokens that carry a valid ML-DSA-65 '
                     'signature in addition to the ES384 one.'),
    cfg.IntOpt('token_lifetime', default=300, min=1,
               help='Seconds an attestation token stays valid after it is '
                    'issued.'),
    cfg.IntOpt('token_leeway', default=30, min=0,
               help='Seconds of clock skew tolerated when checking the '
                    'iat and exp claims of a token.'),
    cfg.IntOpt('nonce_lifetime', default=60, min=1,
               help='Seconds a challenge nonce may be used after it is '
                    'issued. Nonces are single use.'),
]


def register_opts(conf: cfg.ConfigOpts) -> None:
    """Register the group's options and the [database] defaults."""
    conf.register_group(GROUP)
    conf.register_opts(OPTS, group=GROUP)
    db_options.set_defaults(conf, connection=DEFAULT_CONNECTION)


def list_opts():
    """The group and its options, for oslo-config-generator."""
    return {GROUP: OPTS}
