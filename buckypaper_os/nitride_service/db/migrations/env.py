"""Alembic environment: runs on the connection given by ``migration``."""

from alembic import context

from buckypaper_os.nitride_service.db import models

context.configure(connection=context.config.attributes['connection'],
                  target_metadata=models.Base.metadata,
                  render_as_batch=True)
with context.begin_transaction():
    context.run_migrations()
