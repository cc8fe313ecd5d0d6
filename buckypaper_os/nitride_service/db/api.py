"""Database API of Nitride: the only code that touches its tables.

Workers keep no state of their own: every function opens its own
transaction on the engine of ``[database] connection`` (or writes in one
the caller opened with :func:`writing`), so any number of processes
sharing the database behave as one. Rows come back as plain dicts.
The audit log has no update or delete function.
"""

import contextlib
import datetime
import hashlib
import hmac
import secrets
import sqlite3
import threading
import typing

from oslo_db import exception as db_exc
from oslo_db.sqlalchemy import engines
import sqlalchemy as sa
from sqlalchemy import orm
from sqlalchemy import pool

from buckypaper_os import conf as bp_conf
from buckypaper_os.nitride_service.db import models

CONF = bp_conf.CONF

NONCE_BYTES = 32
#: Lengths in hex digits of SNP host_data (32 bytes), TDX mr_config_id (48).
BINDING_HEX_LENGTHS = (64, 96)

_ENGINE: typing.Optional[sa.Engine] = None
#: Per SQLite file engine: a connection held open (see _keep_open).
_KEEPER: typing.List[sqlite3.Connection] = []
#: Execution option of the sessions that write (see _share_sqlite).
_WRITE = 'buckypaper_write'
_LOCK = threading.Lock()
_KEEPER_LOCK = threading.Lock()


class NonceRefused(Exception):
    """A nonce cannot be consumed; the message says why."""


def get_engine() -> sa.Engine:
    """The process's engine for ``[database]``, created on first use."""
    global _ENGINE
    with _LOCK:
        if _ENGINE is None:
            db = CONF.database
            _ENGINE = engines.create_engine(
                db.connection, sqlite_fk=True,
                sqlite_synchronous=db.sqlite_synchronous,
                mysql_sql_mode=db.mysql_sql_mode,
                mysql_wsrep_sync_wait=db.mysql_wsrep_sync_wait,
                connection_recycle_time=db.connection_recycle_time,
                connection_debug=db.connection_debug,
                max_pool_size=db.max_pool_size,
                max_overflow=db.max_overflow,
                pool_timeout=db.pool_timeout,
                connection_trace=db.connection_trace,
                max_retries=db.max_retries,
                retry_interval=db.retry_interval,
                connection_parameters=db.connection_parameters,
                # Its sleep(0) per checkin lets green threads run; Nitride
                # runs OS threads, for which it only hands the GIL away.
                thread_checkin=False,
                _engine_target=_pooled_sqlite_engine)
            if _ENGINE.dialect.name == 'sqlite':
                _share_sqlite(_ENGINE)
                # The pool may hold oslo.db's test connection, opened
                # before the listeners above: start from a fresh pool.
                _ENGINE.dispose()
        return _ENGINE


def _pooled_sqlite_engine(url, **engine_args
                          ) -> typing.Tuple[sa.Engine, sa.Engine]:
    """Create the engine, pooling connections to a SQLite file.

    oslo.db gives a SQLite file a ``NullPool``: every session opened and
    closed the file, re-read its schema and set up the connection again,
    more than half of a release decision's database time. A ``QueuePool``
    of ``[database] max_pool_size`` connections (plus ``max_overflow``)
    keeps them open instead. A connection is used by one thread at a time
    (pool checkout), so it may move between threads; oslo.db's fork guard
    still replaces connections inherited by a child process. A file never
    drops a connection: no ping per checkout.
    """
    if engine_args.get('poolclass') is pool.NullPool:
        db = CONF.database
        engine_args.update(poolclass=pool.QueuePool, pool_pre_ping=False,
                           pool_size=db.max_pool_size,
                           max_overflow=db.max_overflow)
        if db.pool_timeout is not None:
            engine_args['pool_timeout'] = db.pool_timeout
        engine_args['connect_args']['check_same_thread'] = False
    engine = sa.create_engine(url, **engine_args)
    return engine, engine


def _share_sqlite(engine: sa.Engine) -> None:
    """Let several processes write one SQLite file under load.

    In write-ahead-log mode readers and the writer do not block each
    other. A transaction that reads before it writes would hold a read lock
    and fail at once with "database is locked" when another process writes
    meanwhile (SQLite's deadlock avoidance), so write transactions take the
    write lock when they begin (``BEGIN IMMEDIATE``) and wait their turn.

    With ``[database] sqlite_synchronous`` (the default) commits are
    ``synchronous=NORMAL``: in WAL mode a committed transaction (an audit
    record) survives any crash of the process, since it is in the OS's
    cache when the commit returns; only a power loss or OS crash may undo
    the last commits, and never corrupts the file. The write lock is no
    longer held across an fsync per commit.
    """
    synchronous = CONF.database.sqlite_synchronous

    @sa.event.listens_for(engine, 'connect')
    def _wal(dbapi_connection, record) -> None:
        dbapi_connection.execute('PRAGMA journal_mode=WAL')
        with _KEEPER_LOCK:
            if not _KEEPER:
                _keep_open(engine.url.database)
        if synchronous:
            dbapi_connection.execute('PRAGMA synchronous=NORMAL')

    @sa.event.listens_for(engine, 'engine_connect')
    def _mark(connection: sa.Connection) -> None:
        if connection.get_execution_options().get(_WRITE):
            # oslo.db's own listener emits a plain BEGIN unless it sees
            # this marker of a transaction already begun.
            connection.info['in_transaction'] = True
            connection.info[_WRITE] = True

    @sa.event.listens_for(engine, 'begin')
    def _begin(connection: sa.Connection) -> None:
        if connection.info.pop(_WRITE, False):
            connection.exec_driver_sql('BEGIN IMMEDIATE')

    @sa.event.listens_for(engine, 'checkin')
    def _forget(dbapi_connection, record) -> None:
        # A pooled connection goes back without a transaction (the pool
        # rolled back): no marker may outlive its session.
        record.info.pop(_WRITE, None)
        record.info.pop('in_transaction', None)


def _keep_open(path: typing.Optional[str]) -> None:
    """Hold a connection to the SQLite file ``path`` for the engine's life.

    When the last connection to the file closes, SQLite checkpoints the
    write-ahead log into the database and deletes it (an fsync). The pool
    keeps connections open, but drops them all when it is disposed (at
    start, after a fork) and closes its overflow ones: the kept connection,
    which has read the database in WAL mode, spares those moments too.
    """
    if path and path != ':memory:':
        keeper = sqlite3.connect(path, check_same_thread=False)
        keeper.execute('SELECT COUNT(*) FROM sqlite_master').fetchall()
        _KEEPER.append(keeper)


def dispose_engine() -> None:
    """Forget the engine, e.g. after a fork or a configuration change."""
    global _ENGINE
    with _LOCK:
        if _ENGINE is not None:
            _ENGINE.dispose()
            _ENGINE = None
        with _KEEPER_LOCK:
            while _KEEPER:
                _KEEPER.pop().close()


@contextlib.contextmanager
def writing() -> typing.Iterator[sa.Connection]:
    """One write transaction (``BEGIN IMMEDIATE`` on SQLite).

    Functions given its connection write in it: all commit together at the
    end of the block, or none does.
    """
    with get_engine().execution_options(**{_WRITE: True}).begin() as conn:
        yield conn


def _write(statement: sa.Executable, parameters: dict,
           connection: typing.Optional[sa.Connection] = None
           ) -> sa.CursorResult:
    """Execute in ``connection``'s transaction, or in one of its own."""
    if connection is not None:
        return connection.execute(statement, parameters)
    with writing() as own:
        return own.execute(statement, parameters)


# The statements of a guest's challenge, attestation and release, built
# once: their values are bound at execution, so SQLAlchemy neither rebuilds
# them nor recomputes their cache keys per call.
_REFERENCES = models.ReferenceValue.__table__
_BINDINGS = models.InstanceBinding.__table__
_NONCES = models.Nonce.__table__
_PROJECT_POLICY = models.AppraisalPolicy.__table__.alias('project_policy')
_FLAVOR_POLICY = models.AppraisalPolicy.__table__.alias('flavor_policy')
_REGISTRATION = (
    sa.select(_REFERENCES,
              _PROJECT_POLICY.c.document.label('project_policy'),
              _FLAVOR_POLICY.c.document.label('flavor_policy'))
    .join(_BINDINGS, _BINDINGS.c.instance_uuid == _REFERENCES.c.instance_uuid)
    .outerjoin(_PROJECT_POLICY, sa.and_(
        _PROJECT_POLICY.c.scope == 'project',
        _PROJECT_POLICY.c.scope_id == _REFERENCES.c.project_id))
    .outerjoin(_FLAVOR_POLICY, sa.and_(
        _FLAVOR_POLICY.c.scope == 'flavor',
        _FLAVOR_POLICY.c.scope_id == _REFERENCES.c.flavor_id))
    .where(_REFERENCES.c.instance_uuid == sa.bindparam('instance')))
_NONCE_CONSUME = (
    sa.update(_NONCES)
    .where(_NONCES.c.value_hash == sa.bindparam('value_hash_'),
           _NONCES.c.instance_uuid == sa.bindparam('instance'),
           _NONCES.c.used == sa.false(),
           _NONCES.c.expires_at > sa.bindparam('now', type_=sa.DateTime))
    .values(used=True, used_at=sa.bindparam('now', type_=sa.DateTime)))
_NOW_US = sa.bindparam('now', type_=sa.BigInteger)
_INTERVAL_US = sa.bindparam('interval', type_=sa.BigInteger)


def _rate_statements(table: sa.Table) -> typing.Tuple[sa.Update, sa.Select]:
    """The conditional UPDATE of a GCRA rate table, and its TAT query."""
    admit = (
        sa.update(table)
        .where(table.c.instance_uuid == sa.bindparam('instance'),
               table.c.tat <= sa.bindparam('limit', type_=sa.BigInteger))
        .values(tat=sa.case((table.c.tat > _NOW_US,
                             table.c.tat + _INTERVAL_US),
                            else_=_NOW_US + _INTERVAL_US)))
    return admit, sa.select(table.c.tat).where(
        table.c.instance_uuid == sa.bindparam('instance'))


#: The rate tables: the budgets of challenges and of releases.
RATES = (models.ChallengeRate, models.ReleaseRate)
_RATE = {model: _rate_statements(model.__table__) for model in RATES}
_ATTESTATIONS = models.Attestation.__table__
_RELEASE_FACTS = (
    sa.select(_ATTESTATIONS.c.instance_uuid,
              _BINDINGS.c.instance_uuid.is_not(None))
    .outerjoin(_BINDINGS,
               _BINDINGS.c.instance_uuid == _ATTESTATIONS.c.instance_uuid)
    .where(_ATTESTATIONS.c.token_jti == sa.bindparam('jti')))
#: Inserts of Core tables (not ORM entities: no ORM DML machinery).
_AUDIT = models.AuditEvent.__table__.c
_LAST_AUDIT_ID = sa.select(sa.func.max(_AUDIT.id))
_RELEASE_ALLOWED = sa.select(_AUDIT.id).where(
    _AUDIT.id > sa.bindparam('after'), _AUDIT.event == 'release',
    _AUDIT.decision == 'allowed',
    _AUDIT.instance_uuid == sa.bindparam('instance'),
    _AUDIT.secret_ref == sa.bindparam('secret')).limit(1)
_INSERT = {model: sa.insert(model.__table__) for model in (
    models.Nonce, models.Attestation, models.AuditEvent) + RATES}


def _session(write: bool = False) -> orm.Session:
    """A session; ``write`` for one that changes rows."""
    engine = get_engine()
    if write:
        engine = engine.execution_options(**{_WRITE: True})
    return orm.Session(engine, expire_on_commit=False)


def _utcnow() -> datetime.datetime:
    return datetime.datetime.now(datetime.timezone.utc).replace(tzinfo=None)


def _as_dict(row: typing.Optional[models.Base]) -> typing.Optional[dict]:
    if row is None:
        return None
    return {column.key: getattr(row, column.key)
            for column in sa.inspect(row).mapper.column_attrs}


def _delete(model: type, instance_uuid: str) -> bool:
    with _session(write=True) as session, session.begin():
        result = session.execute(
            sa.delete(model).where(model.instance_uuid == instance_uuid))
        return result.rowcount > 0


# Reference values


def reference_set(instance_uuid: str, project_id: str, tee: str,
                  measurements: typing.List[str], policy: dict,
                  flavor_id: typing.Optional[str] = None) -> None:
    """Register (or replace) what an instance's evidence must show."""
    now = _utcnow()
    with _session(write=True) as session, session.begin():
        row = session.get(models.ReferenceValue, instance_uuid)
        if row is None:
            row = models.ReferenceValue(instance_uuid=instance_uuid,
                                        created_at=now)
            session.add(row)
        else:
            row.updated_at = now
        row.project_id = project_id
        row.tee = tee
        row.flavor_id = flavor_id
        row.measurements = list(measurements)
        row.policy = dict(policy)


def reference_get(instance_uuid: str) -> typing.Optional[dict]:
    """The reference values of an instance, or ``None``."""
    with _session() as session:
        return _as_dict(session.get(models.ReferenceValue, instance_uuid))


def reference_list(project_id: typing.Optional[str] = None) -> list:
    """Reference values of every instance (of a project), by instance."""
    query = _select(models.ReferenceValue,
                    models.ReferenceValue.instance_uuid, None, project_id)
    with _session() as session:
        return [_as_dict(row) for row in session.scalars(query)]


def reference_delete(instance_uuid: str) -> bool:
    """Remove an instance's reference values; false if there were none."""
    return _delete(models.ReferenceValue, instance_uuid)


def registration_get(instance_uuid: str) -> typing.Optional[dict]:
    """What a guest's challenge and attestation need, in one query.

    The instance's reference values, with ``project_policy`` and
    ``flavor_policy`` (the appraisal policy documents of its project and
    flavor, or ``None``); ``None`` unless it has reference values and a
    binding.
    """
    with get_engine().connect() as connection:
        row = connection.execute(_REGISTRATION, {
            'instance': instance_uuid}).mappings().first()
    return None if row is None else dict(row)


# Instance bindings


def _binding_hex(binding: str) -> str:
    value = binding.lower()
    if len(value) not in BINDING_HEX_LENGTHS:
        raise ValueError('a binding is 32 (host_data) or 48 (mr_config_id) '
                         'bytes of hex')
    bytes.fromhex(value)
    return value


def binding_create(instance_uuid: str, project_id: str, tee: str,
                   binding: str) -> None:
    """Record the host_data / mr_config_id (hex) Nova gave an instance.

    An instance has one binding for life: a second one raises oslo.db's
    ``DBDuplicateEntry``. Its budgets (:data:`RATES`) start full in the
    same transaction: only a bound instance has them (see
    :func:`rate_admit`).
    """
    with _session(write=True) as session, session.begin():
        session.add(models.InstanceBinding(
            instance_uuid=instance_uuid, project_id=project_id, tee=tee,
            binding=_binding_hex(binding), created_at=_utcnow()))
        for model in RATES:
            session.merge(model(instance_uuid=instance_uuid, tat=0))


def binding_get(instance_uuid: str) -> typing.Optional[dict]:
    """The binding of an instance, or ``None``."""
    with _session() as session:
        return _as_dict(session.get(models.InstanceBinding, instance_uuid))


def binding_matches(instance_uuid: str, binding: str) -> bool:
    """Whether ``binding`` (hex) is the instance's, in constant time."""
    row = binding_get(instance_uuid)
    if row is None:
        return False
    return hmac.compare_digest(row['binding'].encode('ascii'),
                               binding.lower().encode('ascii'))


def binding_delete(instance_uuid: str) -> bool:
    """Remove an instance's binding; false if there was none."""
    return _delete(models.InstanceBinding, instance_uuid)


# Nonces


def _nonce_hash(nonce: bytes) -> str:
    return hashlib.sha256(nonce).hexdigest()


def nonce_create(instance_uuid: str, lifetime: int,
                 now: typing.Optional[datetime.datetime] = None,
                 connection: typing.Optional[sa.Connection] = None
                 ) -> bytes:
    """A fresh random nonce for an instance, valid ``lifetime`` seconds.

    Written in ``connection``'s transaction (see :func:`writing`) if given.

    Only its SHA-256 is stored: the lookup compares digests of
    attacker-chosen input, never the secret value itself.
    """
    now = now or _utcnow()
    nonce = secrets.token_bytes(NONCE_BYTES)
    _write(_INSERT[models.Nonce], {
        'value_hash': _nonce_hash(nonce), 'instance_uuid': instance_uuid,
        'issued_at': now, 'used': False,
        'expires_at': now + datetime.timedelta(seconds=lifetime)},
        connection)
    return nonce


def nonce_consume(instance_uuid: str, nonce: bytes,
                  now: typing.Optional[datetime.datetime] = None) -> None:
    """Use up a nonce issued to ``instance_uuid``, or raise NonceRefused.

    One conditional UPDATE marks it used, so of any number of workers
    consuming the same nonce at once exactly one succeeds.
    """
    now = now or _utcnow()
    value_hash = _nonce_hash(nonce)
    if _write(_NONCE_CONSUME, {'value_hash_': value_hash,
                               'instance': instance_uuid,
                               'now': now}).rowcount == 1:
        return
    with _session() as session:
        row = session.get(models.Nonce, value_hash)
    if row is None:
        raise NonceRefused('nonce unknown')
    if row.instance_uuid != instance_uuid:
        raise NonceRefused('nonce issued to another instance')
    if row.used:
        raise NonceRefused('nonce already used')
    raise NonceRefused('nonce expired')


def rate_admit(model: type, instance_uuid: str, interval: int, burst: int,
               now: int) -> typing.Optional[int]:
    """Admit a request of an instance under its rate limit (GCRA).

    ``model`` is one of :data:`RATES`. Times are integer microseconds.
    Each admitted request moves the instance's theoretical arrival time
    ``interval`` further; up to ``burst`` requests pass at once. Returns 0
    when admitted, otherwise the microseconds until the next one would be,
    or ``None`` when the instance has no budget: it is not bound (never
    registered, or removed). One conditional UPDATE decides, so concurrent
    API processes sharing the database cannot admit more than the limit
    between them.
    """
    admit, tat_of = _RATE[model]
    limit = now + (burst - 1) * interval
    with writing() as connection:
        if connection.execute(admit, {
                'instance': instance_uuid, 'limit': limit, 'now': now,
                'interval': interval}).rowcount:
            return 0
        tat = connection.execute(tat_of, {
            'instance': instance_uuid}).scalar()
    if tat is None:
        return None
    # Never more than one interval: a ``now`` gone stale waiting for the
    # database would overstate the wait.
    return min(interval, max(1, tat - limit))


def rates_ensure(instance_uuid: str) -> None:
    """Give a bound instance the budgets it lacks (full); keep the rest.

    Repairs an instance whose removal raced a new registration of it.
    """
    for model in RATES:
        try:
            _write(_INSERT[model], {'instance_uuid': instance_uuid, 'tat': 0})
        except db_exc.DBDuplicateEntry:
            pass


def rates_delete(instance_uuid: str) -> bool:
    """Forget an instance's rate limits; false if it had none."""
    deleted = [_delete(model, instance_uuid) for model in RATES]
    return any(deleted)


def nonce_purge(now: typing.Optional[datetime.datetime] = None) -> int:
    """Delete expired nonces; the number deleted."""
    with _session(write=True) as session, session.begin():
        result = session.execute(sa.delete(models.Nonce).where(
            models.Nonce.expires_at <= (now or _utcnow())))
        return result.rowcount


# Attestation records


def attestation_create(instance_uuid: str, project_id: str, tee: str,
                       status: str, claims: dict,
                       reasons: typing.Sequence[str] = (),
                       simulated: bool = False,
                       evidence: typing.Optional[dict] = None,
                       token_jti: typing.Optional[str] = None,
                       token: typing.Optional[str] = None,
                       expires_at: typing.Optional[datetime.datetime] = None,
                       connection: typing.Optional[sa.Connection] = None
                       ) -> int:
    """Record a verification and the token issued for it; its id.

    Written in ``connection``'s transaction (see :func:`writing`) if given.
    """
    return _write(_INSERT[models.Attestation], {
        'instance_uuid': instance_uuid, 'project_id': project_id,
        'tee': tee, 'status': status, 'simulated': simulated,
        'claims': claims, 'reasons': list(reasons), 'evidence': evidence,
        'token_jti': token_jti, 'token': token, 'expires_at': expires_at,
        'created_at': _utcnow()}, connection).inserted_primary_key[0]


def attestation_release_facts(token_jti: str
                              ) -> typing.Optional[typing.Tuple[str, bool]]:
    """The attested instance of token ``token_jti``, still registered?

    One query for the release decision; ``None`` if no token has that jti.
    """
    with get_engine().connect() as connection:
        row = connection.execute(_RELEASE_FACTS, {'jti': token_jti}).first()
    return None if row is None else (row[0], bool(row[1]))


def attestation_get_by_jti(token_jti: str) -> typing.Optional[dict]:
    """The attestation whose token has ``jti``, or ``None``."""
    with _session() as session:
        return _as_dict(session.scalars(sa.select(models.Attestation).where(
            models.Attestation.token_jti == token_jti)).one_or_none())


def _select(model: type, order: sa.ColumnElement,
            instance_uuid: typing.Optional[str],
            project_id: typing.Optional[str]) -> sa.Select:
    query = sa.select(model).order_by(order)
    if instance_uuid is not None:
        query = query.where(model.instance_uuid == instance_uuid)
    if project_id is not None:
        query = query.where(model.project_id == project_id)
    return query


def attestation_list(instance_uuid: typing.Optional[str] = None,
                     project_id: typing.Optional[str] = None) -> list:
    """Attestations of an instance and/or project, newest first."""
    query = _select(models.Attestation, models.Attestation.id.desc(),
                    instance_uuid, project_id)
    with _session() as session:
        return [_as_dict(row) for row in session.scalars(query)]


def attestation_get_latest(instance_uuid: str) -> typing.Optional[dict]:
    """The newest attestation of an instance, or ``None``."""
    query = _select(models.Attestation, models.Attestation.id.desc(),
                    instance_uuid, None).limit(1)
    with _session() as session:
        return _as_dict(session.scalars(query).first())


def attestation_latest_list(project_id: typing.Optional[str] = None
                            ) -> list:
    """The newest attestation of every instance (of a project)."""
    newest = sa.select(sa.func.max(models.Attestation.id)).group_by(
        models.Attestation.instance_uuid)
    if project_id is not None:
        newest = newest.where(models.Attestation.project_id == project_id)
    query = sa.select(models.Attestation).where(
        models.Attestation.id.in_(newest))
    with _session() as session:
        return [_as_dict(row) for row in session.scalars(query)]


# Appraisal policies


POLICY_SCOPES = ('project', 'flavor')


def policy_set(scope: str, scope_id: str, document: dict,
               updated_by: typing.Optional[str] = None) -> None:
    """Store (or replace) the appraisal policy of a project or flavor."""
    if scope not in POLICY_SCOPES:
        raise ValueError('policy scope must be one of %s'
                         % ', '.join(POLICY_SCOPES))
    with _session(write=True) as session, session.begin():
        session.merge(models.AppraisalPolicy(
            scope=scope, scope_id=scope_id, document=dict(document),
            updated_at=_utcnow(), updated_by=updated_by))


def policy_get(scope: str, scope_id: str) -> typing.Optional[dict]:
    """The policy of a project or flavor, or ``None``."""
    with _session() as session:
        return _as_dict(session.get(models.AppraisalPolicy,
                                    (scope, scope_id)))


def policy_list(scope: typing.Optional[str] = None) -> list:
    """Every appraisal policy (of one scope), by scope and id."""
    query = sa.select(models.AppraisalPolicy).order_by(
        models.AppraisalPolicy.scope, models.AppraisalPolicy.scope_id)
    if scope is not None:
        query = query.where(models.AppraisalPolicy.scope == scope)
    with _session() as session:
        return [_as_dict(row) for row in session.scalars(query)]


def policy_delete(scope: str, scope_id: str) -> bool:
    """Remove a policy; false if there was none."""
    with _session(write=True) as session, session.begin():
        result = session.execute(sa.delete(models.AppraisalPolicy).where(
            models.AppraisalPolicy.scope == scope,
            models.AppraisalPolicy.scope_id == scope_id))
        return result.rowcount > 0


# Audit log


def audit_append(event: str, decision: str, reasons: typing.List[str],
                 instance_uuid: typing.Optional[str] = None,
                 project_id: typing.Optional[str] = None,
                 connection: typing.Optional[sa.Connection] = None,
                 secret_ref: typing.Optional[str] = None) -> int:
    """Append a decision and its reasons to the audit log; its id.

    A Core insert: every decision writes one, and the ORM unit of work
    costs more than the row. Written in ``connection``'s transaction (see
    :func:`writing`) if given.
    """
    return _write(_INSERT[models.AuditEvent], {
        'event': event, 'decision': decision, 'reasons': list(reasons),
        'instance_uuid': instance_uuid, 'project_id': project_id,
        'secret_ref': secret_ref, 'created_at': _utcnow()},
        connection).inserted_primary_key[0]


def audit_last_id() -> int:
    """The id of the newest audit event (0 if none)."""
    with get_engine().connect() as connection:
        return connection.execute(_LAST_AUDIT_ID).scalar() or 0


def release_allowed(after_id: int, instance_uuid: str,
                    secret_ref: str) -> bool:
    """Was releasing ``secret_ref`` to the instance allowed after that id?

    An ``allowed`` release event newer than audit event ``after_id``: the
    Vault's call to ``authorize_release`` for this instance and secret.
    """
    with get_engine().connect() as connection:
        return connection.execute(_RELEASE_ALLOWED, {
            'after': after_id, 'instance': instance_uuid,
            'secret': secret_ref}).first() is not None


def audit_list(instance_uuid: typing.Optional[str] = None,
               project_id: typing.Optional[str] = None) -> list:
    """Audit events of an instance and/or project, oldest first."""
    query = _select(models.AuditEvent, models.AuditEvent.id, instance_uuid,
                    project_id)
    with _session() as session:
        return [_as_dict(row) for row in session.scalars(query)]
