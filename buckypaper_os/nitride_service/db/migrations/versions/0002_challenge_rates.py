"""Per-instance challenge rate limit.

One row per instance that asked for a challenge: the theoretical arrival
time of its next challenge (generic cell rate algorithm).

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-27
"""

from alembic import op
import sqlalchemy as sa

revision = '0002'
down_revision = '0001'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        'challenge_rates',
        sa.Column('instance_uuid', sa.String(36), primary_key=True),
        sa.Column('tat', sa.BigInteger, nullable=False))


def downgrade() -> None:
    op.drop_table('challenge_rates')
