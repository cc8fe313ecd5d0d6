"""Nitride's SQLite file shared by writers at once (a boot storm).

Each thread uses its own SQLite connection from the engine's pool, so
threads race for the file's locks as worker processes do.
"""

import concurrent.futures
import os
import sqlite3
import time
import uuid

from buckypaper_os.nitride_service.db import api
from tests.unit.nitride.test_db import db  # noqa: F401
from tests.unit.nitride.test_db import db_file  # noqa: F401

THREADS = 16
ROUNDS = 15


def _register_and_audit(index: int) -> None:
    """Read-then-write transactions, as a registration makes them."""
    for _ in range(ROUNDS):
        instance = str(uuid.uuid4())
        api.reference_set(instance, 'project', 'sev-snp', ['aa'], {})
        api.reference_set(instance, 'project', 'sev-snp', ['bb'], {})
        api.policy_set('project', 'p-%d' % index, {'allow_debug': False})
        api.audit_append('register', 'registered', [],
                         instance_uuid=instance)


def test_concurrent_writers_wait_their_turn(db):  # noqa: F811
    with concurrent.futures.ThreadPoolExecutor(THREADS) as pool:
        list(pool.map(_register_and_audit, range(THREADS)))
    with sqlite3.connect(str(db)) as raw:
        assert raw.execute('PRAGMA journal_mode').fetchone() == ('wal',)
        assert raw.execute('SELECT COUNT(*) FROM reference_values'
                           ).fetchone() == (THREADS * ROUNDS,)
    assert len(api.audit_list()) == THREADS * ROUNDS


def test_reads_do_not_wait_for_a_writer(db):  # noqa: F811
    api.audit_append('register', 'registered', [], instance_uuid='i')
    with sqlite3.connect(str(db), timeout=0) as writer:
        writer.execute('BEGIN IMMEDIATE')
        writer.execute("INSERT INTO audit_log (event, decision, reasons, "
                       "created_at) VALUES ('x', 'y', '[]', "
                       "'2026-01-01 00:00:00')")
        assert len(api.audit_list()) == 1  # the committed state
        writer.rollback()


def test_the_log_outlives_each_session(db):  # noqa: F811
    """No checkpoint and fsync at every session's end."""
    api.audit_append('register', 'registered', [], instance_uuid='i')
    assert os.path.exists(str(db) + '-wal')


def test_no_sleep_at_each_checkin(db, monkeypatch):  # noqa: F811
    """No sleep(0) per checkin: it is for green threads, not Nitride's."""
    slept = []
    monkeypatch.setattr(time, 'sleep', slept.append)
    api.audit_append('register', 'registered', [], instance_uuid='i')
    assert api.audit_list(instance_uuid='i')
    assert slept == []
