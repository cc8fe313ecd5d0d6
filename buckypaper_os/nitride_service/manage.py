"""``buckypaper-nitride-manage``: administration of Nitride.

``db sync`` migrates the schema of ``[database] connection`` to the newest
revision; ``db version`` prints the current revision. ``export`` writes the
signed attestation records and audit events of an instance or project as
JSON, for tenants and auditors (``buckypaper-attest records FILE``
re-verifies them offline).
"""

import json
import sys
import typing

from oslo_config import cfg

from buckypaper_os import conf as bp_conf
from buckypaper_os.nitride_service.db import api
from buckypaper_os.nitride_service.db import migration
from buckypaper_os.nitride_service import engine as engine_mod

CONF = bp_conf.CONF


def _sync() -> None:
    migration.upgrade(api.get_engine())


def _version() -> None:
    print(migration.version(api.get_engine()) or 'none')


def _export() -> None:
    args = CONF.category
    if not (args.instance or args.project):
        raise SystemExit('export needs --instance or --project')
    data = engine_mod.Engine(CONF).export(args.instance, args.project)
    text = json.dumps(data, indent=2, sort_keys=True) + '\n'
    if args.output:
        with open(args.output, 'w', encoding='utf-8') as f:
            f.write(text)
    else:
        sys.stdout.write(text)


_ACTIONS = {('db', 'sync'): _sync, ('db', 'version'): _version,
            ('export', None): _export}


def _add_parsers(subparsers) -> None:
    db = subparsers.add_parser('db', help='database schema')
    db_actions = db.add_subparsers(dest='action')
    db_actions.required = True
    db_actions.add_parser('sync', help='migrate the schema to the newest '
                                       'revision')
    db_actions.add_parser('version', help='print the schema revision')
    export = subparsers.add_parser(
        'export', help='signed attestation records and audit events')
    export.add_argument('--instance', help='records of this instance')
    export.add_argument('--project', help='records of this project')
    export.add_argument('--output', help='file to write (default stdout)')


_COMMAND = cfg.SubCommandOpt('category', title='commands',
                             handler=_add_parsers)


def main(argv: typing.Optional[list] = None) -> int:
    """Entry point of ``buckypaper-nitride-manage``."""
    CONF.register_cli_opt(_COMMAND)
    CONF(sys.argv[1:] if argv is None else argv,
         project='buckypaper', prog='buckypaper-nitride-manage')
    category = CONF.category
    _ACTIONS[(category.name, getattr(category, 'action', None))]()
    return 0


if __name__ == '__main__':
    sys.exit(main())
