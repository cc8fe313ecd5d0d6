"""``buckypaper-vault-manage``: the Vault's database tables.

Run it with Barbican's configuration. ``db sync`` migrates the tables in
``[buckypaper_vault] connection`` to the newest revision (as
``barbican-manage db upgrade`` does Barbican's); ``db version`` prints
their revision, ``none`` before the first sync.
"""

import argparse
import sys
import typing

from oslo_config import cfg
import sqlalchemy as sa

from buckypaper_os.barbican_plugin import db
from buckypaper_os.barbican_plugin import migration
from buckypaper_os.conf import vault as vault_conf


def load_conf(config_files: typing.Sequence[str]) -> cfg.ConfigOpts:
    """The ``[buckypaper_vault]`` options of ``config_files``."""
    conf = cfg.ConfigOpts()
    vault_conf.register_opts(conf)
    conf([], project='barbican', default_config_files=list(config_files)
         or None)
    return conf


def engine_of(conf: cfg.ConfigOpts) -> typing.Optional[sa.Engine]:
    """The engine of the Vault's database; None (said on stderr) if unset."""
    if not conf.buckypaper_vault.connection:
        print('[buckypaper_vault] connection is not set', file=sys.stderr)
        return None
    return db.get_engine(conf.buckypaper_vault.connection)


def main(argv: typing.Optional[typing.Sequence[str]] = None) -> int:
    parser = argparse.ArgumentParser(prog='buckypaper-vault-manage',
                                     description=__doc__.splitlines()[0])
    parser.add_argument('--config-file', action='append', default=[],
                        help='barbican.conf (repeatable)')
    commands = parser.add_subparsers(dest='command', required=True)
    commands.add_parser('db', help='the Vault\'s tables').add_argument(
        'action', choices=('sync', 'version'),
        help='sync: migrate to the newest revision; version: print it')
    args = parser.parse_args(argv)
    engine = engine_of(load_conf(args.config_file))
    if engine is None:
        return 2
    if args.action == 'sync':
        migration.upgrade(engine)
    print(migration.version(engine) or 'none')
    return 0


if __name__ == '__main__':
    sys.exit(main())
