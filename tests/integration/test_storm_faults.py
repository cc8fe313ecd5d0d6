"""Faults during a boot storm, and what must hold afterwards.

Each test runs a storm (``tests/storm.py``: the real guest API, two
Nitride workers, RabbitMQ and Barbican 23 with the Vault) of
``$STORM_GUESTS`` guests (100 by default; ``tox -e storm`` runs 1,000),
one in twenty with evidence that must be refused, and injects one fault
once a quarter of the guests are through. Afterwards:

* every guest with valid evidence got exactly its own key (guests retry
  with backoff), no guest with invalid evidence got a token or a key;
* no secret is lost in Barbican or the Vault, every decision a guest saw
  is in the audit log and every token has its attestation record;
* no plaintext key (raw, hex, base64) is in the database files, the logs
  or the AMQP frames Barbican exchanged.

The module starts a broker of its own, which one test restarts.
"""

import os
import shutil
import signal
import sqlite3
import threading
import time

import pytest

from tests.functional import conftest as vault_harness
from tests.functional import leaks
from tests.integration import conftest as harness
from tests import storm

GUESTS = int(os.environ.get('STORM_GUESTS', '100'))
INVALID = max(3, GUESTS // 20)
POOL = 32
#: Seconds a guest keeps retrying.
PATIENCE = 300
PORT = 5733
#: Longer than SQLite's default busy timeout (5 s): writers do fail.
LOCK_SECONDS = 7
#: A worker's clock ahead by more than a token's lifetime and leeway.
SKEW = '+15m'
FAKETIME = '/usr/lib/x86_64-linux-gnu/faketime/libfaketime.so.1'


@pytest.fixture(scope='module')
def broker_state(tmp_path_factory):
    if not os.path.exists('/usr/lib/rabbitmq/bin/rabbitmq-server'):
        pytest.skip('rabbitmq-server is not installed')
    if shutil.which('buckypaper-nitride') is None:
        pytest.skip('buckypaper-nitride is not installed')
    state = str(tmp_path_factory.mktemp('storm-rabbitmq'))
    url = harness.start_broker(state, PORT)
    yield state, url
    harness.stop_broker(state)


@pytest.fixture(scope='module')
def vault(broker_state, tmp_path_factory, pki_dir):
    root = str(tmp_path_factory.mktemp('storm'))
    for sub in ('nitride', 'barbican'):
        os.makedirs(os.path.join(root, sub))
    deployment = vault_harness.Vault(root, broker_state[1], pki_dir)
    yield deployment
    deployment.stop()


def storm_with(vault, pki, fault) -> None:
    """A storm with ``fault()`` once a quarter is through; the checks."""
    members = storm.populate(vault, pki, GUESTS, INVALID)
    before = storm.counts(vault)
    injected = threading.Thread(target=fault)

    def progress(done: int) -> None:
        if done == GUESTS // 4:
            injected.start()

    outcomes = storm.storm(vault, members, POOL, PATIENCE, progress)
    injected.join()
    assert storm.violations(outcomes) == [], storm.causes(outcomes)
    after = storm.counts(vault)
    for store in ('barbican secrets', 'vault secrets'):
        assert after[store] == before[store], store
    seen = sum(len(o.tickets) + (o.key is not None) for o in outcomes)
    assert after['audit events'] >= before['audit events'] + seen + INVALID
    assert storm.unaudited(vault, outcomes) == []
    haystacks = leaks.haystacks(vault.root, bytes(vault.tap.captured))
    assert leaks.find([m.key for m in members], haystacks) == []
    return outcomes


def test_rabbitmq_restarted(vault, pki, broker_state):
    state, url = broker_state
    pids = []

    def restart() -> None:
        with open(os.path.join(state, 'server.pid')) as f:
            pids.append(f.read())
        harness.stop_broker(state)
        time.sleep(1)
        assert harness.start_broker(state, PORT) == url
        with open(os.path.join(state, 'server.pid')) as f:
            pids.append(f.read())

    storm_with(vault, pki, restart)
    assert len(set(pids)) == 2  # the broker really was another process


def test_nitride_worker_killed(vault, pki):
    nitride = vault.nitride
    victim = nitride.processes[0]

    def kill() -> None:
        victim.send_signal(signal.SIGKILL)
        victim.wait(timeout=30)

    try:
        storm_with(vault, pki, kill)
        assert victim.returncode == -signal.SIGKILL
    finally:
        victim.wait(timeout=30)
        nitride.processes[0] = nitride.start_worker(0)
        nitride.wait_ready()


def test_barbican_restarted(vault, pki):
    pids = [vault.barbican.process.pid]

    def restart() -> None:
        vault.barbican.stop()
        vault.barbican.start()
        pids.append(vault.barbican.process.pid)

    storm_with(vault, pki, restart)
    assert pids[0] != pids[1]


@pytest.mark.parametrize('database', ['nitride', 'vault'])
def test_database_locked(vault, pki, database):
    path = (vault.nitride.db if database == 'nitride'
            else vault.barbican.vault_db)
    held = []

    def lock() -> None:
        with sqlite3.connect(path, timeout=60) as db:
            db.execute('BEGIN EXCLUSIVE')
            start = time.monotonic()
            time.sleep(LOCK_SECONDS)
            held.append(time.monotonic() - start)
            db.rollback()

    outcomes = storm_with(vault, pki, lock)
    assert held and held[0] >= LOCK_SECONDS
    if database == 'nitride':  # writers gave up: guests saw it and retried
        assert any('503' in cause or 'release: 403' in cause
                   for cause in storm.causes(outcomes)), storm.causes(
                       outcomes)


def test_nitride_worker_clock_skewed(vault, pki):
    if not os.path.exists(FAKETIME):
        pytest.skip('libfaketime is not installed (apt-get install '
                    'faketime)')
    nitride = vault.nitride
    honest = nitride.processes[1]
    honest.terminate()
    honest.wait(timeout=30)
    # libfaketime offsets the monotonic clock too (Python's time.sleep
    # fails with EINVAL under FAKETIME_DONT_FAKE_MONOTONIC).
    nitride.processes[1] = nitride.start_worker(1, env={
        'LD_PRELOAD': FAKETIME, 'FAKETIME': SKEW})
    try:
        storm_with(vault, pki, lambda: None)
    finally:
        skewed = nitride.processes[1]
        skewed.kill()  # under libfaketime it ignores SIGTERM's timers
        skewed.wait(timeout=30)
        nitride.processes[1] = nitride.start_worker(1)
        nitride.wait_ready()
    # The skewed worker did serve, and refused every ticket as expired.
    refusals = storm.rows(vault.nitride.db, "SELECT reasons FROM audit_log "
                          "WHERE event = 'release' AND decision = "
                          "'refused' AND reasons LIKE '%expired%'")
    assert refusals
