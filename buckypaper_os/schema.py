"""Alembic migrations of one of the suite's schemas, on a given engine."""

import typing

from alembic import command
from alembic import config as alembic_config
from alembic.runtime import migration as alembic_migration
from alembic import script as alembic_script
import sqlalchemy as sa


class Migrations:
    """An alembic script directory and the table that keeps its revision.

    The script directory's ``env.py`` runs on the connection found in
    ``config.attributes['connection']``.
    """

    def __init__(self, script_location: str,
                 version_table: str = 'alembic_version') -> None:
        self.script_location = script_location
        self.version_table = version_table

    def _config(self, connection: typing.Optional[sa.Connection] = None
                ) -> alembic_config.Config:
        config = alembic_config.Config()
        config.set_main_option('script_location', self.script_location)
        config.attributes['connection'] = connection
        return config

    def head(self) -> str:
        """The newest revision this code knows."""
        return alembic_script.ScriptDirectory.from_config(
            self._config()).get_current_head()

    def upgrade(self, engine: sa.Engine, revision: str = 'head') -> None:
        """Migrate up to ``revision``."""
        with engine.begin() as connection:
            command.upgrade(self._config(connection), revision)

    def downgrade(self, engine: sa.Engine, revision: str) -> None:
        """Migrate down to ``revision`` (``base``: no tables at all)."""
        with engine.begin() as connection:
            command.downgrade(self._config(connection), revision)

    def version(self, engine: sa.Engine) -> typing.Optional[str]:
        """The current revision; ``None`` before the first migration."""
        with engine.connect() as connection:
            context = alembic_migration.MigrationContext.configure(
                connection, opts={'version_table': self.version_table})
            return context.get_current_revision()
