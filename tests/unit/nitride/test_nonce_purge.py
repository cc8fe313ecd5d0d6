"""Each RPC worker deletes expired nonces in the background."""

import contextlib
import datetime
import threading
import time
import uuid

import sqlalchemy as sa

from buckypaper_os.nitride_service.db import api as db_api
from buckypaper_os.nitride_service.db import models
from buckypaper_os.nitride_service import service

INSTANCE = str(uuid.uuid4())
TIMEOUT = 20


def _nonces() -> int:
    with db_api.get_engine().connect() as connection:
        return connection.scalar(sa.select(sa.func.count()).select_from(
            models.Nonce))


@contextlib.contextmanager
def _purging(conf):
    """A worker's purger running every second; stopped and joined after."""
    conf.set_override('nonce_purge_interval', 1, 'nitride')
    stop = threading.Event()
    purger = threading.Thread(target=service.purge_nonces,
                              args=(conf, stop))
    purger.start()
    try:
        yield purger
    finally:
        stop.set()
        purger.join(TIMEOUT)
        conf.clear_override('nonce_purge_interval', 'nitride')


def _wait_until(done) -> None:
    deadline = time.monotonic() + TIMEOUT
    while not done():
        assert time.monotonic() < deadline, 'not done in %d s' % TIMEOUT
        time.sleep(0.1)


def test_expired_nonces_are_purged_live_ones_kept(nitride_conf):
    long_ago = datetime.datetime.now(datetime.timezone.utc).replace(
        tzinfo=None) - datetime.timedelta(hours=1)
    for _ in range(5):
        db_api.nonce_create(INSTANCE, 60, now=long_ago)
    live = db_api.nonce_create(INSTANCE, 600)
    with _purging(nitride_conf) as purger:
        _wait_until(lambda: _nonces() == 1)
    assert not purger.is_alive()
    db_api.nonce_consume(INSTANCE, live)  # the live one still works


def test_a_failed_purge_is_retried(nitride_conf, monkeypatch, caplog):
    calls = []

    def fail():
        calls.append(1)
        raise sa.exc.OperationalError('DELETE', {}, Exception('locked'))

    monkeypatch.setattr(db_api, 'nonce_purge', fail)
    with _purging(nitride_conf):
        _wait_until(lambda: len(calls) >= 2)
    assert 'purging expired nonces failed (OperationalError)' in caplog.text
