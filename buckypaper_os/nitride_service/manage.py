"""``buckypaper-nitride-manage``: administration of Nitride.

``db sync`` migrates the schema of ``[database] connection`` to the newest
revision; ``db version`` prints the current revision. ``export`` writes the
signed attestation records and audit events of an instance or project as
JSON, for tenants and auditors (``buckypaper-attest records FILE``
re-verifies them offline). ``collateral check`` lists the CRLs and TDX
TCB documents of ``[attestation] collateral_cache_dir`` with their next
update and exits 1 when one is unreadable, expired or expires within
``--days`` (default 7): a check for monitoring.
"""

import datetime
import json
import sys
import typing

from oslo_config import cfg

from buckypaper_os import conf as bp_conf
from buckypaper_os.nitride_service import collateral_status
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


def _collateral_check() -> None:
    root = CONF.attestation.collateral_cache_dir
    if not root:
        raise SystemExit('[attestation] collateral_cache_dir is not set')
    found = collateral_status.entries(root)
    if not found:
        raise SystemExit('no CRL or TCB document in %s' % root)
    now = datetime.datetime.now(datetime.timezone.utc)
    healthy = True
    for entry in found:
        fine, text = collateral_status.state(entry, now,
                                             CONF.category.days)
        healthy = healthy and fine
        when = (entry.next_update.strftime('%Y-%m-%dT%H:%M:%SZ')
                if entry.next_update else '-')
        print('%-20s  %-4s  %s  %s' % (when, 'ok' if fine else 'FIX',
                                       entry.path, text))
    if not healthy:
        raise SystemExit(1)


_ACTIONS = {('db', 'sync'): _sync, ('db', 'version'): _version,
            ('export', None): _export,
            ('collateral', 'check'): _collateral_check}


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
    collateral = subparsers.add_parser(
        'collateral', help='the collateral cache')
    collateral_actions = collateral.add_subparsers(dest='action')
    collateral_actions.required = True
    check = collateral_actions.add_parser(
        'check', help='next updates of its CRLs and TCB documents')
    check.add_argument('--days', type=int, default=7,
                       help='fail when a file expires within this many '
                            'days (default 7)')


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
