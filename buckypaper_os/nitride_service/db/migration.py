"""Schema migrations of Nitride's database (alembic)."""

import os

from buckypaper_os import schema

MIGRATIONS = schema.Migrations(os.path.join(
    os.path.dirname(os.path.abspath(__file__)), 'migrations'))

upgrade = MIGRATIONS.upgrade
downgrade = MIGRATIONS.downgrade
version = MIGRATIONS.version
