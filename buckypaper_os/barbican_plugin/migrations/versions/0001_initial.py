"""Initial schema of the Vault: wrapped project keys and sealed secrets.

Tables left by the plugin before it had migrations (it created them on
first use, with this same schema) are adopted as they are.

Revision ID: 0001
Revises:
Create Date: 2026-11-27
"""

from alembic import op
import sqlalchemy as sa

revision = '0001'
down_revision = None
branch_labels = None
depends_on = None


def _exists(table: str) -> bool:
    return sa.inspect(op.get_bind()).has_table(table)


def upgrade() -> None:
    if not _exists('buckypaper_vault_project_keys'):
        op.create_table(
            'buckypaper_vault_project_keys',
            sa.Column('project_id', sa.String(255), primary_key=True),
            sa.Column('kek_id', sa.String(32), nullable=False),
            sa.Column('wrapped_dek', sa.LargeBinary, nullable=False),
            sa.Column('updated_at', sa.DateTime, nullable=False))
    if not _exists('buckypaper_vault_secrets'):
        op.create_table(
            'buckypaper_vault_secrets',
            sa.Column('id', sa.String(36), primary_key=True),
            sa.Column('project_id', sa.String(255), nullable=False),
            sa.Column('policy', sa.Text, nullable=True),
            sa.Column('ciphertext', sa.LargeBinary, nullable=False),
            sa.Column('created_at', sa.DateTime, nullable=False))
        op.create_index('ix_buckypaper_vault_secrets_project_id',
                        'buckypaper_vault_secrets', ['project_id'])


def downgrade() -> None:
    op.drop_table('buckypaper_vault_secrets')
    op.drop_table('buckypaper_vault_project_keys')
