"""Per-instance release rate limit.

``POST /v1/release`` makes Barbican and a Nitride worker work for each
request; an attested guest may hold a ticket for minutes. Like challenges
(0002), releases get a budget per instance. From now on only a bound
instance has budgets (its binding creates both, its removal deletes
them), so both tables are filled here for the instances bound before.

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-27
"""

from alembic import op
import sqlalchemy as sa

revision = '0004'
down_revision = '0003'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        'release_rates',
        sa.Column('instance_uuid', sa.String(36), primary_key=True),
        sa.Column('tat', sa.BigInteger, nullable=False))
    for table in ('release_rates', 'challenge_rates'):
        op.execute(
            'INSERT INTO %s (instance_uuid, tat) SELECT instance_uuid, 0 '
            'FROM instance_bindings WHERE instance_uuid NOT IN '
            '(SELECT instance_uuid FROM %s)' % (table, table))


def downgrade() -> None:
    op.drop_table('release_rates')
