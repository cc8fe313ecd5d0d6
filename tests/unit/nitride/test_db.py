"""Nitride's database: migrations, every API function, nonces, audit log."""

import datetime
import multiprocessing
import os
import sqlite3
import subprocess
import sys

from alembic import autogenerate
from alembic.runtime import migration as alembic_migration
from oslo_db import exception as db_exc
import pytest
import sqlalchemy as sa

from buckypaper_os import conf as bp_conf
from buckypaper_os.nitride_service.db import api
from buckypaper_os.nitride_service.db import migration
from buckypaper_os.nitride_service.db import models

CONF = bp_conf.CONF
INSTANCE = '0b6f4c3e-8a9d-4f7e-b1c2-3d4e5f6a7b8c'
OTHER = '9a8b7c6d-5e4f-4a3b-8c2d-1e0f9a8b7c6d'
T0 = datetime.datetime(2026, 1, 1, 12, 0, 0)


def _use(url: str) -> None:
    CONF.set_override('connection', url, group='database')
    api.dispose_engine()


@pytest.fixture
def db_file(tmp_path):
    path = tmp_path / 'nitride.sqlite'
    _use('sqlite:///%s' % path)
    yield path
    api.dispose_engine()
    CONF.clear_override('connection', group='database')


@pytest.fixture
def db(db_file):
    migration.upgrade(api.get_engine())
    return db_file


def test_default_connection_is_sqlite_file():
    assert CONF.database.connection == (
        'sqlite:////var/lib/buckypaper/nitride.sqlite')


def test_migrations_create_schema_matching_models(db_file):
    engine = api.get_engine()
    assert migration.version(engine) is None
    migration.upgrade(engine)
    assert migration.version(engine) == '0004'
    assert set(sa.inspect(engine).get_table_names()) == {
        'alembic_version', 'reference_values', 'instance_bindings',
        'nonces', 'attestations', 'appraisal_policies', 'audit_log',
        'challenge_rates', 'release_rates'}
    with engine.connect() as connection:
        context = alembic_migration.MigrationContext.configure(connection)
        diff = autogenerate.compare_metadata(context, models.Base.metadata)
    assert diff == []


def test_downgrade_drops_everything_and_upgrade_again(db):
    engine = api.get_engine()
    migration.downgrade(engine, 'base')
    assert sa.inspect(engine).get_table_names() == ['alembic_version']
    migration.upgrade(engine)
    assert migration.version(engine) == '0004'


def test_0004_gives_instances_bound_before_it_their_budgets(db_file):
    engine = api.get_engine()
    migration.upgrade(engine, '0003')
    with engine.begin() as connection:
        for instance in (INSTANCE, OTHER):
            connection.execute(sa.text(
                "INSERT INTO instance_bindings (instance_uuid, project_id, "
                "tee, binding, created_at) VALUES (:i, 'p', 'sev-snp', "
                ":b, '2026-01-01 00:00:00')"), {'i': instance, 'b': '00' * 32})
        # OTHER had asked for a challenge: its budget stays as it was.
        connection.execute(sa.text(
            "INSERT INTO challenge_rates VALUES (:i, 42)"), {'i': OTHER})
    migration.upgrade(engine)
    with engine.connect() as connection:
        rows = {table: dict(connection.execute(sa.text(
            'SELECT instance_uuid, tat FROM %s' % table)).all())
            for table in ('challenge_rates', 'release_rates')}
    assert rows == {'challenge_rates': {INSTANCE: 0, OTHER: 42},
                    'release_rates': {INSTANCE: 0, OTHER: 0}}
    for model in api.RATES:
        assert api.rate_admit(model, INSTANCE, 10, 1, 100) == 0


def test_manage_db_sync_and_version(tmp_path):
    path = tmp_path / 'managed.sqlite'
    conf_file = tmp_path / 'nitride.conf'
    conf_file.write_text('[database]\nconnection = sqlite:///%s\n' % path)

    def manage(*args):
        return subprocess.run(
            [sys.executable, '-m', 'buckypaper_os.nitride_service.manage',
             '--config-file', str(conf_file), 'db', *args],
            check=True, capture_output=True, text=True).stdout.strip()

    assert manage('version') == 'none'
    manage('sync')
    assert manage('version') == '0004'
    tables = {row[0] for row in sqlite3.connect(path).execute(
        "SELECT name FROM sqlite_master WHERE type = 'table'")}
    assert 'audit_log' in tables and 'nonces' in tables


def test_reference_values(db):
    assert api.reference_get(INSTANCE) is None
    api.reference_set(INSTANCE, 'proj', 'sev-snp', ['aa' * 48],
                      {'debug': False})
    row = api.reference_get(INSTANCE)
    assert row['measurements'] == ['aa' * 48]
    assert row['policy'] == {'debug': False}
    assert (row['project_id'], row['tee']) == ('proj', 'sev-snp')
    assert row['updated_at'] is None
    api.reference_set(INSTANCE, 'proj', 'sev-snp', ['bb' * 48, 'cc' * 48],
                      {'min_tcb': {'snp': 22}})
    row = api.reference_get(INSTANCE)
    assert row['measurements'] == ['bb' * 48, 'cc' * 48]
    assert row['policy'] == {'min_tcb': {'snp': 22}}
    assert row['updated_at'] is not None
    assert api.reference_delete(INSTANCE) is True
    assert api.reference_delete(INSTANCE) is False
    assert api.reference_get(INSTANCE) is None


def test_bindings(db):
    host_data = 'AB' * 32
    api.binding_create(INSTANCE, 'proj', 'sev-snp', host_data)
    row = api.binding_get(INSTANCE)
    assert (row['binding'], row['tee']) == (host_data.lower(), 'sev-snp')
    assert api.binding_matches(INSTANCE, host_data)
    assert not api.binding_matches(INSTANCE, 'ab' * 31 + 'ac')
    assert not api.binding_matches(OTHER, host_data)
    with pytest.raises(db_exc.DBDuplicateEntry):
        api.binding_create(INSTANCE, 'proj', 'sev-snp', 'cd' * 32)
    api.binding_create(OTHER, 'proj', 'tdx', '01' * 48)
    assert api.binding_get(OTHER)['binding'] == '01' * 48
    assert api.binding_delete(INSTANCE) is True
    assert api.binding_get(INSTANCE) is None
    assert api.binding_delete(INSTANCE) is False


@pytest.mark.parametrize('binding', ['ab' * 16, 'zz' * 32, ''])
def test_binding_must_be_host_data_or_mr_config_id_hex(db, binding):
    with pytest.raises(ValueError):
        api.binding_create(INSTANCE, 'proj', 'sev-snp', binding)
    assert api.binding_get(INSTANCE) is None


def test_nonce_single_use(db):
    nonce = api.nonce_create(INSTANCE, 60, now=T0)
    assert len(nonce) == api.NONCE_BYTES
    assert api.nonce_create(INSTANCE, 60, now=T0) != nonce
    api.nonce_consume(INSTANCE, nonce, now=T0)
    with pytest.raises(api.NonceRefused, match='already used'):
        api.nonce_consume(INSTANCE, nonce, now=T0)


def test_nonce_expires(db):
    nonce = api.nonce_create(INSTANCE, 60, now=T0)
    with pytest.raises(api.NonceRefused, match='expired'):
        api.nonce_consume(INSTANCE, nonce,
                          now=T0 + datetime.timedelta(seconds=60))
    fresh = api.nonce_create(INSTANCE, 60, now=T0)
    api.nonce_consume(INSTANCE, fresh, now=T0 + datetime.timedelta(seconds=59))


def test_nonce_of_another_instance_refused_and_kept(db):
    nonce = api.nonce_create(INSTANCE, 60, now=T0)
    with pytest.raises(api.NonceRefused, match='another instance'):
        api.nonce_consume(OTHER, nonce, now=T0)
    api.nonce_consume(INSTANCE, nonce, now=T0)


def test_unknown_nonce_refused(db):
    with pytest.raises(api.NonceRefused, match='unknown'):
        api.nonce_consume(INSTANCE, b'\0' * api.NONCE_BYTES, now=T0)


def test_nonce_stored_only_as_hash(db):
    nonce = api.nonce_create(INSTANCE, 60, now=T0)
    with sqlite3.connect(db) as connection:
        rows = connection.execute('SELECT * FROM nonces').fetchall()
    assert len(rows) == 1
    dump = repr(rows)
    assert nonce.hex() not in dump and repr(nonce) not in dump


def test_nonce_purge(db):
    old = api.nonce_create(INSTANCE, 10, now=T0)
    fresh = api.nonce_create(INSTANCE, 100, now=T0)
    assert api.nonce_purge(now=T0 + datetime.timedelta(seconds=50)) == 1
    with pytest.raises(api.NonceRefused, match='unknown'):
        api.nonce_consume(INSTANCE, old, now=T0)
    api.nonce_consume(INSTANCE, fresh, now=T0)


def _race(url, nonces, barrier, results):
    """A separate worker process consuming every nonce once."""
    _use(url)
    for nonce in nonces:
        barrier.wait()
        try:
            api.nonce_consume(INSTANCE, nonce)
            results.put((nonce, os.getpid()))
        except api.NonceRefused:
            pass
    api.dispose_engine()


def test_two_processes_race_for_each_nonce_one_wins(db):
    """Two stateless workers sharing one SQLite file behave as one."""
    nonces = [api.nonce_create(INSTANCE, 300) for _ in range(25)]
    context = multiprocessing.get_context('spawn')
    barrier = context.Barrier(2)
    results = context.Queue()
    url = CONF.database.connection
    workers = [context.Process(target=_race,
                               args=(url, nonces, barrier, results))
               for _ in range(2)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join(120)
    assert [worker.exitcode for worker in workers] == [0, 0]
    winners = []
    while len(winners) < len(nonces):
        winners.append(results.get(timeout=10))
    assert results.empty()
    assert sorted(nonce for nonce, _ in winners) == sorted(nonces)
    for nonce in nonces:
        with pytest.raises(api.NonceRefused, match='already used'):
            api.nonce_consume(INSTANCE, nonce)


def test_attestation_release_facts(db):
    api.attestation_create(INSTANCE, 'proj', 'sev-snp', 'affirming', {},
                           token_jti='j1', token='tok1')
    assert api.attestation_release_facts('j1') == (INSTANCE, False)
    api.binding_create(INSTANCE, 'proj', 'sev-snp', 'ab' * 32)
    assert api.attestation_release_facts('j1') == (INSTANCE, True)
    assert api.attestation_release_facts('nope') is None
    api.binding_delete(INSTANCE)
    assert api.attestation_release_facts('j1') == (INSTANCE, False)


def test_sqlite_wal_with_normal_sync(db):
    with api.get_engine().connect() as connection:
        assert connection.exec_driver_sql(
            'PRAGMA journal_mode').scalar() == 'wal'
        assert connection.exec_driver_sql(
            'PRAGMA synchronous').scalar() == 1  # NORMAL


def test_attestation_records(db):
    first = api.attestation_create(INSTANCE, 'proj', 'sev-snp', 'affirming',
                                   {'measurement': 'aa'}, token_jti='j1',
                                   token='tok1')
    second = api.attestation_create(INSTANCE, 'proj', 'sev-snp',
                                    'contraindicated', {'debug': True})
    other = api.attestation_create(OTHER, 'proj2', 'tdx', 'warning', {},
                                   token_jti='j2', token='tok2')
    assert first < second
    row = api.attestation_get_by_jti('j1')
    assert (row['id'], row['token'], row['claims']) == (
        first, 'tok1', {'measurement': 'aa'})
    assert api.attestation_get_by_jti('nope') is None
    assert api.attestation_get_latest(INSTANCE)['id'] == second
    assert api.attestation_get_latest('missing') is None
    assert [r['id'] for r in api.attestation_list(INSTANCE)] == [second,
                                                                 first]
    assert [r['id'] for r in api.attestation_list(project_id='proj2')] == [
        other]
    assert len(api.attestation_list()) == 3
    with pytest.raises(db_exc.DBDuplicateEntry):
        api.attestation_create(OTHER, 'proj2', 'tdx', 'warning', {},
                               token_jti='j1')


def test_audit_log_appends_and_lists(db):
    api.audit_append('challenge', 'issued', [], INSTANCE, 'proj')
    api.audit_append('verify', 'refused', ['nonce expired'], INSTANCE,
                     'proj')
    api.audit_append('release', 'refused', ['unknown instance'], OTHER,
                     'proj2')
    events = api.audit_list(instance_uuid=INSTANCE)
    assert [(e['event'], e['decision'], e['reasons']) for e in events] == [
        ('challenge', 'issued', []), ('verify', 'refused', ['nonce expired'])]
    assert [e['instance_uuid'] for e in api.audit_list(project_id='proj2')
            ] == [OTHER]
    assert all(e['created_at'] for e in api.audit_list())


@pytest.mark.parametrize('statement', [
    "UPDATE audit_log SET decision = 'released'",
    'DELETE FROM audit_log'])
def test_audit_log_refuses_update_and_delete(db, statement):
    api.audit_append('release', 'refused', ['token expired'], INSTANCE,
                     'proj')
    with pytest.raises(db_exc.DBError, match='append-only'):
        with api.get_engine().begin() as connection:
            connection.execute(sa.text(statement))
    assert [e['decision'] for e in api.audit_list()] == ['refused']


def test_audit_api_has_no_update_or_delete():
    names = [name for name in dir(api) if name.startswith('audit_')]
    assert sorted(names) == ['audit_append', 'audit_last_id', 'audit_list']


def test_policies_per_scope(db):
    api.policy_set('project', 'p1', {'min_tcb': {'snp': 8}}, 'admin')
    api.policy_set('project', 'p1', {'allow_debug': False}, 'admin2')
    row = api.policy_get('project', 'p1')
    assert row['document'] == {'allow_debug': False}
    assert row['updated_by'] == 'admin2'
    assert api.policy_get('flavor', 'p1') is None
    with pytest.raises(ValueError, match='scope'):
        api.policy_set('instance', 'x', {})
    assert api.policy_delete('project', 'p1')
    assert not api.policy_delete('project', 'p1')


def test_registration_is_reference_binding_and_policies_in_one(db):
    assert api.registration_get(INSTANCE) is None
    api.reference_set(INSTANCE, 'proj', 'sev-snp', ['aa' * 48],
                      {'allow_debug': False}, flavor_id='f1')
    assert api.registration_get(INSTANCE) is None  # no binding yet
    api.binding_create(INSTANCE, 'proj', 'sev-snp', 'ab' * 32)
    got = api.registration_get(INSTANCE)
    assert (got['project_id'], got['tee'], got['measurements'],
            got['policy'], got['project_policy'], got['flavor_policy']) == (
        'proj', 'sev-snp', ['aa' * 48], {'allow_debug': False}, None, None)
    api.policy_set('project', 'proj', {'min_tcb': {'snp': 8}})
    api.policy_set('flavor', 'f1', {'token_lifetime': 60})
    api.policy_set('flavor', 'proj', {'wrong': 'scope'})
    api.policy_set('project', 'f1', {'wrong': 'scope'})
    got = api.registration_get(INSTANCE)
    assert (got['project_policy'], got['flavor_policy']) == (
        {'min_tcb': {'snp': 8}}, {'token_lifetime': 60})
    api.binding_delete(INSTANCE)
    assert api.registration_get(INSTANCE) is None


def test_writes_in_one_transaction_commit_together_or_not_at_all(db):
    with pytest.raises(RuntimeError):
        with api.writing() as connection:
            nonce = api.nonce_create(INSTANCE, 60, connection=connection)
            api.audit_append('challenge', 'issued', [], INSTANCE, 'proj',
                             connection=connection)
            raise RuntimeError('the block fails after both writes')
    assert api.audit_list() == []
    with pytest.raises(api.NonceRefused, match='unknown'):
        api.nonce_consume(INSTANCE, nonce)
    with api.writing() as connection:
        nonce = api.nonce_create(INSTANCE, 60, connection=connection)
        first = api.attestation_create(INSTANCE, 'proj', 'sev-snp',
                                       'affirming', {}, connection=connection)
        api.audit_append('attest', 'affirming', [], INSTANCE, 'proj',
                         connection=connection)
    api.nonce_consume(INSTANCE, nonce)
    assert api.attestation_get_latest(INSTANCE)['id'] == first
    assert [e['event'] for e in api.audit_list()] == ['attest']


def test_release_allowed_after_a_mark(db):
    mark = api.audit_last_id()
    secret = 'c0ffee00-2a44-4f0e-9d53-1d7b8a3c5e10'
    api.audit_append('release', 'allowed', [], INSTANCE, 'p',
                     secret_ref=secret)
    assert api.release_allowed(mark, INSTANCE, secret)
    # Not before the mark, not for another secret or instance, not refused.
    assert not api.release_allowed(api.audit_last_id(), INSTANCE, secret)
    assert not api.release_allowed(mark, INSTANCE, secret[::-1])
    assert not api.release_allowed(mark, secret, secret)
    later = api.audit_last_id()
    api.audit_append('release', 'refused', ['no'], INSTANCE, 'p',
                     secret_ref=secret)
    assert not api.release_allowed(later, INSTANCE, secret)
