"""Initial schema of Nitride.

References, bindings, nonces, attestations, appraisal policies and the
append-only audit log.

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

_REFUSAL = 'audit_log is append-only'

# Triggers that make the audit log append-only, per dialect. Other dialects
# rely on the API, which has no update or delete of audit events.
_TRIGGERS = {
    'sqlite': (
        ["CREATE TRIGGER audit_log_no_%s BEFORE %s ON audit_log "
         "BEGIN SELECT RAISE(ABORT, '%s'); END" % (op_.lower(), op_,
                                                   _REFUSAL)
         for op_ in ('UPDATE', 'DELETE')],
        ['DROP TRIGGER audit_log_no_update',
         'DROP TRIGGER audit_log_no_delete']),
    'postgresql': (
        ["CREATE FUNCTION audit_log_append_only() RETURNS trigger "
         "LANGUAGE plpgsql AS $$ BEGIN RAISE EXCEPTION '%s'; END $$"
         % _REFUSAL,
         'CREATE TRIGGER audit_log_no_change BEFORE UPDATE OR DELETE ON '
         'audit_log FOR EACH ROW EXECUTE FUNCTION audit_log_append_only()',
         'CREATE TRIGGER audit_log_no_truncate BEFORE TRUNCATE ON audit_log '
         'FOR EACH STATEMENT EXECUTE FUNCTION audit_log_append_only()'],
        ['DROP TRIGGER audit_log_no_truncate ON audit_log',
         'DROP TRIGGER audit_log_no_change ON audit_log',
         'DROP FUNCTION audit_log_append_only()']),
    'mysql': (
        ["CREATE TRIGGER audit_log_no_%s BEFORE %s ON audit_log FOR EACH ROW "
         "SIGNAL SQLSTATE '45000' SET MESSAGE_TEXT = '%s'"
         % (op_.lower(), op_, _REFUSAL) for op_ in ('UPDATE', 'DELETE')],
        ['DROP TRIGGER audit_log_no_update',
         'DROP TRIGGER audit_log_no_delete']),
}


def _uuid(name: str, **kwargs) -> sa.Column:
    return sa.Column(name, sa.String(36), **kwargs)


def _project(nullable: bool = False) -> sa.Column:
    return sa.Column('project_id', sa.String(255), nullable=nullable)


def _index(table: str, *columns: str) -> None:
    for column in columns:
        op.create_index('ix_%s_%s' % (table, column), table, [column])


def upgrade() -> None:
    op.create_table(
        'reference_values',
        _uuid('instance_uuid', primary_key=True),
        _project(),
        sa.Column('tee', sa.String(32), nullable=False),
        sa.Column('flavor_id', sa.String(255), nullable=True),
        sa.Column('measurements', sa.JSON, nullable=False),
        sa.Column('policy', sa.JSON, nullable=False),
        sa.Column('created_at', sa.DateTime, nullable=False),
        sa.Column('updated_at', sa.DateTime, nullable=True))
    _index('reference_values', 'project_id')

    op.create_table(
        'instance_bindings',
        _uuid('instance_uuid', primary_key=True),
        _project(),
        sa.Column('tee', sa.String(32), nullable=False),
        sa.Column('binding', sa.String(96), nullable=False),
        sa.Column('created_at', sa.DateTime, nullable=False))
    _index('instance_bindings', 'project_id')

    op.create_table(
        'nonces',
        sa.Column('value_hash', sa.String(64), primary_key=True),
        _uuid('instance_uuid', nullable=False),
        sa.Column('issued_at', sa.DateTime, nullable=False),
        sa.Column('expires_at', sa.DateTime, nullable=False),
        sa.Column('used', sa.Boolean, nullable=False,
                  server_default=sa.false()),
        sa.Column('used_at', sa.DateTime, nullable=True))
    _index('nonces', 'instance_uuid', 'expires_at')

    op.create_table(
        'attestations',
        sa.Column('id', sa.Integer, primary_key=True, autoincrement=True),
        _uuid('instance_uuid', nullable=False),
        _project(),
        sa.Column('tee', sa.String(32), nullable=False),
        sa.Column('status', sa.String(32), nullable=False),
        sa.Column('simulated', sa.Boolean, nullable=False,
                  server_default=sa.false()),
        sa.Column('claims', sa.JSON, nullable=False),
        sa.Column('reasons', sa.JSON, nullable=False),
        sa.Column('evidence', sa.JSON, nullable=True),
        sa.Column('token_jti', sa.String(64), nullable=True),
        sa.Column('token', sa.Text, nullable=True),
        sa.Column('created_at', sa.DateTime, nullable=False),
        sa.Column('expires_at', sa.DateTime, nullable=True),
        sa.UniqueConstraint('token_jti', name='uq_attestations_token_jti'))
    _index('attestations', 'instance_uuid', 'project_id')

    op.create_table(
        'appraisal_policies',
        sa.Column('scope', sa.String(16), primary_key=True),
        sa.Column('scope_id', sa.String(255), primary_key=True),
        sa.Column('document', sa.JSON, nullable=False),
        sa.Column('updated_at', sa.DateTime, nullable=False),
        sa.Column('updated_by', sa.String(255), nullable=True))

    op.create_table(
        'audit_log',
        sa.Column('id', sa.Integer, primary_key=True, autoincrement=True),
        sa.Column('event', sa.String(64), nullable=False),
        _uuid('instance_uuid', nullable=True),
        _project(nullable=True),
        sa.Column('decision', sa.String(32), nullable=False),
        sa.Column('reasons', sa.JSON, nullable=False),
        sa.Column('created_at', sa.DateTime, nullable=False))
    _index('audit_log', 'instance_uuid', 'project_id', 'created_at')

    for statement in _TRIGGERS.get(op.get_bind().dialect.name, ((), ()))[0]:
        op.execute(statement)


def downgrade() -> None:
    for statement in _TRIGGERS.get(op.get_bind().dialect.name, ((), ()))[1]:
        op.execute(statement)
    for table in ('audit_log', 'appraisal_policies', 'attestations',
                  'nonces', 'instance_bindings', 'reference_values'):
        op.drop_table(table)
