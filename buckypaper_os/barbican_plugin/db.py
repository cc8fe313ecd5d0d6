"""The Vault's own tables: wrapped project DEKs and sealed secrets.

They live in ``[buckypaper_vault] connection`` (Barbican's database or a
separate one), never in Barbican's schema, so the KEK rotation command
re-wraps one row per project without touching Barbican. Barbican only
records each secret's ``vault_id``. Nothing here is ever unwrapped. The
schema is made by the migrations (:mod:`migration`); this module is the
model they are checked against.
"""

import datetime
import threading
import typing

import sqlalchemy as sa

METADATA = sa.MetaData()

PROJECT_KEYS = sa.Table(
    'buckypaper_vault_project_keys', METADATA,
    sa.Column('project_id', sa.String(255), primary_key=True),
    sa.Column('kek_id', sa.String(32), nullable=False),
    sa.Column('wrapped_dek', sa.LargeBinary, nullable=False),
    sa.Column('updated_at', sa.DateTime, nullable=False))

SECRETS = sa.Table(
    'buckypaper_vault_secrets', METADATA,
    sa.Column('id', sa.String(36), primary_key=True),
    sa.Column('project_id', sa.String(255), nullable=False, index=True),
    sa.Column('policy', sa.Text, nullable=True),
    sa.Column('ciphertext', sa.LargeBinary, nullable=False),
    sa.Column('created_at', sa.DateTime, nullable=False))

_ENGINES: typing.Dict[str, sa.engine.Engine] = {}
_LOCK = threading.Lock()


def get_engine(connection: str) -> sa.engine.Engine:
    """The process's engine of ``connection``, made on first use."""
    with _LOCK:
        engine = _ENGINES.get(connection)
        if engine is None:
            # A SQLite file never drops a connection: no ping per query.
            engine = sa.create_engine(connection, pool_pre_ping=not (
                connection.startswith('sqlite')))
            _ENGINES[connection] = engine
        return engine


def dispose() -> None:
    """Forget every engine (tests, forks)."""
    with _LOCK:
        for engine in _ENGINES.values():
            engine.dispose()
        _ENGINES.clear()


def now() -> datetime.datetime:
    return datetime.datetime.now(datetime.timezone.utc).replace(tzinfo=None)
