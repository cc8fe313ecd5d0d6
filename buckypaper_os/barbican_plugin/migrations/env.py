"""Alembic environment: runs on the connection given by ``migration``."""

from alembic import context

from buckypaper_os.barbican_plugin import db
from buckypaper_os.barbican_plugin import migration

context.configure(connection=context.config.attributes['connection'],
                  target_metadata=db.METADATA,
                  version_table=migration.VERSION_TABLE,
                  include_name=migration.include_name,
                  render_as_batch=True)
with context.begin_transaction():
    context.run_migrations()
