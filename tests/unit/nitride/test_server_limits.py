"""The development server's connection limit: bounded threads and memory."""

import json
import socket
import threading
import time

import pytest

from buckypaper_os.nitride_service.api import problems
from buckypaper_os.nitride_service.api import server as server_mod
from tests import sockets

TIMEOUT = 10
REQUEST = b'GET / HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n'


def _app(environ, start_response):
    start_response('200 OK', [('Content-Type', 'application/json')])
    return [b'{}']


@pytest.fixture
def server():
    server = server_mod.make_server('127.0.0.1', 0, _app, max_connections=2)
    thread = threading.Thread(target=server.serve_forever)
    thread.start()
    yield server
    server.shutdown()
    thread.join(TIMEOUT)
    server.server_close()


def _exchange(server, data: bytes) -> bytes:
    with socket.create_connection(server.server_address,
                                  timeout=TIMEOUT) as client:
        client.sendall(data)
        return sockets.read_until_closed(client)


def _wait_for_free_slots(server, count: int) -> None:
    deadline = time.monotonic() + TIMEOUT
    while server.slots._value != count:  # the semaphore's counter
        assert time.monotonic() < deadline, server.slots._value
        time.sleep(0.01)


def test_connections_beyond_the_limit_get_503_at_once(server):
    idle = [socket.create_connection(server.server_address,
                                     timeout=TIMEOUT) for _ in range(2)]
    try:
        _wait_for_free_slots(server, 0)
        started = time.monotonic()
        answer = _exchange(server, REQUEST)
        assert time.monotonic() - started < 2
        head, body = answer.split(b'\r\n\r\n', 1)
        assert head.startswith(b'HTTP/1.1 503 ')
        assert b'Retry-After: 1' in head
        assert b'Content-Type: %s' % problems.MEDIA_TYPE.encode() in head
        assert json.loads(body)['status'] == 503
    finally:
        for client in idle:
            client.close()
    # The idle clients gone, their slots serve again.
    _wait_for_free_slots(server, 2)
    assert _exchange(server, REQUEST).split(b' ', 2)[1] == b'200'


def test_slots_are_released_after_every_request(server):
    for _ in range(10):
        assert _exchange(server, REQUEST).split(b' ', 2)[1] == b'200'
    _wait_for_free_slots(server, 2)
