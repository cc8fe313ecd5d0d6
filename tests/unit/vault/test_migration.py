"""The Vault's migrations: they make the models' schema, beside Barbican's."""

from alembic import autogenerate
from alembic.runtime import migration as alembic_migration
from oslo_config import cfg
import pytest
import sqlalchemy as sa

from buckypaper_os.barbican_plugin import db
from buckypaper_os.barbican_plugin import manage
from buckypaper_os.barbican_plugin import migration
from buckypaper_os.barbican_plugin import store as store_mod

#: A table and an alembic history of Barbican's in the same database.
BARBICAN_REVISION = '39cf2e645cba'


@pytest.fixture
def shared(tmp_path):
    """A database that already holds Barbican's own alembic history."""
    url = 'sqlite:///%s' % (tmp_path / 'barbican.sqlite')
    engine = db.get_engine(url)
    with engine.begin() as conn:
        conn.execute(sa.text('CREATE TABLE alembic_version '
                             '(version_num VARCHAR(32) NOT NULL)'))
        conn.execute(sa.text("INSERT INTO alembic_version VALUES ('%s')"
                             % BARBICAN_REVISION))
        conn.execute(sa.text('CREATE TABLE secrets (id VARCHAR(36))'))
    yield url, engine
    db.dispose()


def _diff(engine):
    with engine.connect() as conn:
        context = alembic_migration.MigrationContext.configure(
            conn, opts={'include_name': migration.include_name,
                        'version_table': migration.VERSION_TABLE})
        return autogenerate.compare_metadata(context, db.METADATA)


def _barbican_revision(engine):
    with engine.connect() as conn:
        return conn.execute(sa.text(
            'SELECT version_num FROM alembic_version')).scalar_one()


def test_migrations_match_the_models(shared):
    _, engine = shared
    assert migration.version(engine) is None
    assert _diff(engine)  # nothing yet: the models' tables are missing
    migration.upgrade(engine)
    assert migration.version(engine) == migration.head() == '0001'
    assert _diff(engine) == []
    # Barbican's history and tables are untouched.
    assert _barbican_revision(engine) == BARBICAN_REVISION
    assert 'secrets' in sa.inspect(engine).get_table_names()


def test_downgrade_removes_only_the_vaults_tables(shared):
    _, engine = shared
    migration.upgrade(engine)
    migration.downgrade(engine, 'base')
    assert migration.version(engine) is None
    tables = set(sa.inspect(engine).get_table_names())
    assert not {t for t in tables if t.startswith('buckypaper_vault')
                and t != migration.VERSION_TABLE}
    assert {'secrets', 'alembic_version'} <= tables
    assert _barbican_revision(engine) == BARBICAN_REVISION


def test_tables_of_the_pre_migration_plugin_are_adopted(tmp_path):
    engine = db.get_engine('sqlite:///%s' % (tmp_path / 'old.sqlite'))
    try:
        db.METADATA.create_all(engine)  # what the plugin did before
        with engine.begin() as conn:
            conn.execute(db.PROJECT_KEYS.insert().values(
                project_id='p', kek_id='k', wrapped_dek=b'w',
                updated_at=db.now()))
        migration.upgrade(engine)
        assert migration.version(engine) == '0001'
        assert _diff(engine) == []
        with engine.connect() as conn:
            assert conn.execute(sa.select(db.PROJECT_KEYS.c.project_id)
                                ).scalars().all() == ['p']
    finally:
        db.dispose()


def test_ensure_migrates_only_when_told(shared):
    _, engine = shared
    with pytest.raises(migration.SchemaError) as exc:
        migration.ensure(engine, auto_create=False)
    assert 'buckypaper-vault-manage db sync' in str(exc.value)
    assert migration.version(engine) is None
    migration.ensure(engine, auto_create=True)
    assert migration.version(engine) == migration.head()
    migration.ensure(engine, auto_create=False)  # current: nothing to do


def test_store_refuses_an_unmigrated_database(shared, tmp_path):
    url, engine = shared
    kek = tmp_path / 'kek'
    kek.write_bytes(bytes(32))
    config = tmp_path / 'barbican.conf'
    config.write_text('[buckypaper_vault]\nconnection = %s\nkek_files = %s\n'
                      % (url, kek))
    conf = manage.load_conf([str(config)])
    vault = store_mod.VaultStore(conf, nitride=object())
    with pytest.raises(store_mod.ss.StorePluginNotAvailableOrMisconfigured):
        vault.keyring
    assert 'buckypaper_vault_secrets' not in sa.inspect(
        engine).get_table_names()
    # Barbican's db_auto_create (registered by Barbican) migrates ours too.
    conf.register_opt(cfg.BoolOpt('db_auto_create'))
    conf.set_override('db_auto_create', True)
    assert vault.keyring.engine is engine
    assert migration.version(engine) == migration.head()


def test_manage_db_sync_and_version(shared, tmp_path, capsys):
    url, engine = shared
    config = tmp_path / 'barbican.conf'
    config.write_text('[buckypaper_vault]\nconnection = %s\n' % url)
    assert manage.main(['--config-file', str(config), 'db', 'version']) == 0
    assert capsys.readouterr().out == 'none\n'
    assert manage.main(['--config-file', str(config), 'db', 'sync']) == 0
    assert capsys.readouterr().out == '0001\n'
    assert _diff(engine) == []
    assert manage.main(['--config-file', str(config), 'db', 'version']) == 0
    assert capsys.readouterr().out == '0001\n'
    config.write_text('[buckypaper_vault]\n')
    assert manage.main(['--config-file', str(config), 'db', 'sync']) == 2
    assert 'connection is not set' in capsys.readouterr().err
