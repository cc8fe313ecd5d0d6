"""``buckypaper-nitride-manage``: administration of Nitride's database.

``db sync`` migrates the schema of ``[database] connection`` to the newest
revision; ``db version`` prints the current revision.
"""

import sys
import typing

from oslo_config import cfg

from buckypaper_os import conf as bp_conf
from buckypaper_os.nitride_service.db import api
from buckypaper_os.nitride_service.db import migration

CONF = bp_conf.CONF


def _sync() -> None:
    migration.upgrade(api.get_engine())


def _version() -> None:
    print(migration.version(api.get_engine()) or 'none')


_DB_COMMANDS = {'sync': _sync, 'version': _version}


def _add_parsers(subparsers) -> None:
    db = subparsers.add_parser('db', help='database schema')
    db_actions = db.add_subparsers(dest='action')
    db_actions.required = True
    db_actions.add_parser('sync', help='migrate the schema to the newest '
                                       'revision')
    db_actions.add_parser('version', help='print the schema revision')


_COMMAND = cfg.SubCommandOpt('category', title='commands',
                             handler=_add_parsers)


def main(argv: typing.Optional[list] = None) -> int:
    """Entry point of ``buckypaper-nitride-manage``."""
    CONF.register_cli_opt(_COMMAND)
    CONF(sys.argv[1:] if argv is None else argv,
         project='buckypaper', prog='buckypaper-nitride-manage')
    _DB_COMMANDS[CONF.category.action]()
    return 0


if __name__ == '__main__':
    sys.exit(main())
