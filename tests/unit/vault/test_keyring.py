"""KEK files, project DEKs and rotation."""

import base64
import os

import pytest
import sqlalchemy as sa

from buckypaper_os.barbican_plugin import db
from buckypaper_os.barbican_plugin import envelope
from buckypaper_os.barbican_plugin import keyring as keyring_mod
from buckypaper_os.barbican_plugin import rotate


def kek_file(tmp_path, name, raw=False):
    key = os.urandom(32)
    path = tmp_path / name
    path.write_bytes(key if raw else base64.b64encode(key) + b'\n')
    return str(path)


@pytest.fixture
def engine(connection):
    return db.get_engine(connection)


def test_kek_file_forms(tmp_path):
    raw = kek_file(tmp_path, 'raw', raw=True)
    text = kek_file(tmp_path, 'text')
    assert len(keyring_mod.read_kek(raw)) == 32
    assert len(keyring_mod.read_kek(text)) == 32
    (tmp_path / 'bad').write_bytes(b'short')
    with pytest.raises(keyring_mod.KeyringError) as exc:
        keyring_mod.read_kek(str(tmp_path / 'bad'))
    assert 'short' not in str(exc.value)
    with pytest.raises(keyring_mod.KeyringError):
        keyring_mod.read_kek(str(tmp_path / 'missing'))
    with pytest.raises(keyring_mod.KeyringError):
        keyring_mod.Keyring([], None)


def test_project_dek_is_stable_and_stored_wrapped(tmp_path, engine):
    ring = keyring_mod.Keyring([kek_file(tmp_path, 'k1')], engine)
    dek = ring.project_dek('p1')
    assert ring.project_dek('p1') == dek
    assert ring.project_dek('p2') != dek
    with engine.connect() as conn:
        rows = conn.execute(sa.select(db.PROJECT_KEYS)).all()
    assert len(rows) == 2
    assert all(dek not in row.wrapped_dek for row in rows)


def test_rotation(tmp_path, engine):
    old = kek_file(tmp_path, 'k1')
    ring = keyring_mod.Keyring([old], engine)
    deks = {p: ring.project_dek(p) for p in ('p1', 'p2')}
    new = kek_file(tmp_path, 'k2')
    ring = keyring_mod.Keyring([old, new], engine)
    # Old DEKs still open; new projects use the new KEK.
    assert ring.project_dek('p1') == deks['p1']
    ring.project_dek('p3')
    assert ring.kek_usage() == {keyring_mod.kek_id(
        keyring_mod.read_kek(old)): 2, ring.current_id: 1}
    assert ring.rotate() == (2, 3)
    assert ring.kek_usage() == {ring.current_id: 3}
    assert ring.rotate() == (0, 3)
    # The old KEK can go: every DEK opens with the new one alone.
    ring = keyring_mod.Keyring([new], engine)
    assert {p: ring.project_dek(p) for p in deks} == deks


def test_unknown_kek_refuses(tmp_path, engine):
    keyring_mod.Keyring([kek_file(tmp_path, 'k1')], engine).project_dek('p')
    ring = keyring_mod.Keyring([kek_file(tmp_path, 'k2')], engine)
    with pytest.raises(keyring_mod.KeyringError):
        ring.project_dek('p')


def test_swapped_wrapped_dek_refuses(tmp_path, engine):
    ring = keyring_mod.Keyring([kek_file(tmp_path, 'k1')], engine)
    ring.project_dek('p1')
    ring.project_dek('p2')
    table = db.PROJECT_KEYS
    with engine.begin() as conn:
        wrapped = conn.execute(sa.select(table.c.wrapped_dek).where(
            table.c.project_id == 'p1')).scalar_one()
        conn.execute(table.update().where(table.c.project_id == 'p2')
                     .values(wrapped_dek=wrapped))
    with pytest.raises(envelope.EnvelopeError):
        ring.project_dek('p2')


def test_rotate_command(tmp_path, connection, capsys):
    old = kek_file(tmp_path, 'k1')
    ring = keyring_mod.Keyring([old], db.get_engine(connection))
    dek = ring.project_dek('p1')
    new = str(tmp_path / 'k2')
    assert rotate.main(['--generate', new]) == 0
    assert oct(os.stat(new).st_mode & 0o777) == '0o600'
    conf = tmp_path / 'barbican.conf'
    conf.write_text('[buckypaper_vault]\nconnection = %s\nkek_files = %s,%s\n'
                    % (connection, old, new))
    assert rotate.main(['--config-file', str(conf)]) == 0
    out = capsys.readouterr().out
    assert 're-wrapped 1 of 1 project keys' in out
    db.dispose()
    ring = keyring_mod.Keyring([new], db.get_engine(connection))
    assert ring.project_dek('p1') == dek
    db.dispose()
