"""Schema migrations of the Vault's tables (alembic).

The tables may share Barbican's database, whose own alembic history lives
in ``alembic_version``: the Vault keeps its revision in
:data:`VERSION_TABLE` and touches no table but its own. Barbican's
``[DEFAULT] db_auto_create`` decides for both: when it is true the plugin
migrates its tables on first use, otherwise ``buckypaper-vault-manage db
sync`` does, and the plugin refuses to run on an older schema.
"""

import os
import typing

import sqlalchemy as sa

from buckypaper_os import schema

VERSION_TABLE = 'buckypaper_vault_alembic_version'
TABLE_PREFIX = 'buckypaper_vault_'
MIGRATIONS = schema.Migrations(
    os.path.join(os.path.dirname(os.path.abspath(__file__)), 'migrations'),
    VERSION_TABLE)

head = MIGRATIONS.head
upgrade = MIGRATIONS.upgrade
downgrade = MIGRATIONS.downgrade
version = MIGRATIONS.version


class SchemaError(Exception):
    """The Vault's tables are missing or older than this code."""


def include_name(name: typing.Optional[str], type_: str,
                 parent_names: dict) -> bool:
    """Whether a database object is the Vault's (not Barbican's)."""
    return type_ != 'table' or bool(name and name.startswith(TABLE_PREFIX))


def ensure(engine: sa.Engine, auto_create: bool) -> None:
    """Have the newest schema: migrate to it or raise :class:`SchemaError`.

    Several API workers may migrate at once; the losers of that race find
    the schema current afterwards.
    """
    newest = head()
    if version(engine) == newest:
        return
    if auto_create:
        try:
            upgrade(engine)
        except sa.exc.DBAPIError:
            if version(engine) != newest:
                raise
        return
    raise SchemaError('the Vault\'s tables are at revision %s, not %s: '
                      'run buckypaper-vault-manage db sync'
                      % (version(engine) or 'none', newest))
