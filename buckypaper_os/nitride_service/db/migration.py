"""Schema migrations of Nitride's database (alembic)."""

import os
import typing

from alembic import command
from alembic import config as alembic_config
from alembic.runtime import migration as alembic_migration
import sqlalchemy as sa

SCRIPT_LOCATION = os.path.join(os.path.dirname(os.path.abspath(__file__)),
                               'migrations')


def _config(connection: sa.Connection) -> alembic_config.Config:
    config = alembic_config.Config()
    config.set_main_option('script_location', SCRIPT_LOCATION)
    config.attributes['connection'] = connection
    return config


def upgrade(engine: sa.Engine, revision: str = 'head') -> None:
    """Migrate the schema up to ``revision``."""
    with engine.begin() as connection:
        command.upgrade(_config(connection), revision)


def downgrade(engine: sa.Engine, revision: str) -> None:
    """Migrate the schema down to ``revision`` (``base`` drops it all)."""
    with engine.begin() as connection:
        command.downgrade(_config(connection), revision)


def version(engine: sa.Engine) -> typing.Optional[str]:
    """The schema's current revision; ``None`` before the first sync."""
    with engine.connect() as connection:
        context = alembic_migration.MigrationContext.configure(connection)
        return context.get_current_revision()
