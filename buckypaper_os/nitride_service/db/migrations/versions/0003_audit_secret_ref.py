"""The secret of each audited release decision.

The guest API relays a release only when the Vault's decision for that
instance and secret is in the audit log (see ``db.api.release_allowed``).

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-27
"""

from alembic import op
import sqlalchemy as sa

revision = '0003'
down_revision = '0002'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column('audit_log', sa.Column('secret_ref', sa.String(36),
                                         nullable=True))


def downgrade() -> None:
    # Not in batch mode: copying the table would drop its append-only
    # triggers (SQLite 3.35+ drops a column in place).
    op.drop_column('audit_log', 'secret_ref')
