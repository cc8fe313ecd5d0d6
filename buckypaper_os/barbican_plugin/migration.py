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

from alembic import command
from alembic import config as alembic_config
from alembic.runtime import migration as alembic_migration
from alembic import script as alembic_script
import sqlalchemy as sa

SCRIPT_LOCATION = os.path.join(os.path.dirname(os.path.abspath(__file__)),
                               'migrations')
VERSION_TABLE = 'buckypaper_vault_alembic_version'
TABLE_PREFIX = 'buckypaper_vault_'


class SchemaError(Exception):
    """The Vault's tables are missing or older than this code."""


def include_name(name: typing.Optional[str], type_: str,
                 parent_names: dict) -> bool:
    """Whether a database object is the Vault's (not Barbican's)."""
    return type_ != 'table' or bool(name and name.startswith(TABLE_PREFIX))


def _config(connection: typing.Optional[sa.Connection] = None
            ) -> alembic_config.Config:
    config = alembic_config.Config()
    config.set_main_option('script_location', SCRIPT_LOCATION)
    config.attributes['connection'] = connection
    return config


def head() -> str:
    """The newest revision this code knows."""
    return alembic_script.ScriptDirectory.from_config(
        _config()).get_current_head()


def upgrade(engine: sa.Engine, revision: str = 'head') -> None:
    """Migrate the Vault's tables up to ``revision``."""
    with engine.begin() as connection:
        command.upgrade(_config(connection), revision)


def downgrade(engine: sa.Engine, revision: str) -> None:
    """Migrate the Vault's tables down to ``revision`` (``base``: none)."""
    with engine.begin() as connection:
        command.downgrade(_config(connection), revision)


def version(engine: sa.Engine) -> typing.Optional[str]:
    """The current revision of the Vault's tables; ``None`` before any."""
    with engine.connect() as connection:
        context = alembic_migration.MigrationContext.configure(
            connection, opts={'version_table': VERSION_TABLE})
        return context.get_current_revision()


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
