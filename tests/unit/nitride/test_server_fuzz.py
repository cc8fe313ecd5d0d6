"""Arbitrary bytes on the wire to the guest API's development server.

Through http.server's parser, our problem answers for its errors, and
the application: every answer has a status below 500 (or 505 for an HTTP
version we do not speak; nothing for a blank request line), within a
bounded time, and the server keeps serving.
"""

import json
import socket
import threading

from hypothesis import given
from hypothesis import HealthCheck
from hypothesis import settings
from hypothesis import strategies as st
import pytest

from buckypaper_os.nitride_service.api import app as app_mod
from buckypaper_os.nitride_service.api import server as server_mod
from tests import fuzzing

TIMEOUT = 20
FUZZ = settings(fuzzing.settings_for(150), suppress_health_check=[
    HealthCheck.too_slow, HealthCheck.function_scoped_fixture])
WORDS = st.sampled_from(['GET', 'POST', 'HEAD', 'PUT', 'OPTIONS', '/',
                         '/v1/attest', '/v1/challenge', '/v1/jwks',
                         'HTTP/1.1', 'HTTP/1.0', 'HTTP/0.9', 'HTTP/2.0',
                         'HTTP/1.1.1', 'HTTP/9', '*'])
LINES = st.one_of(
    st.lists(st.one_of(WORDS, st.text(max_size=10)), max_size=4).map(
        ' '.join),
    st.tuples(st.sampled_from(['Content-Length', 'Content-Type',
                               'Transfer-Encoding', 'Expect', 'Host',
                               'Connection']),
              st.sampled_from(['', '0', '-1', '10', 'chunked', '100-continue',
                               'application/json', 'close'])).map(
        ': '.join),
    st.text(max_size=30))
REQUESTS = st.one_of(
    st.binary(max_size=300),
    st.lists(LINES, max_size=6).map(
        lambda lines: '\r\n'.join(lines).encode('utf-8', 'surrogatepass')
        + b'\r\n\r\n'),
    st.tuples(st.lists(LINES, max_size=6), st.binary(max_size=100)).map(
        lambda t: '\r\n'.join(t[0]).encode('utf-8', 'surrogatepass')
        + b'\r\n\r\n' + t[1]))


@pytest.fixture
def address(engine, nitride_conf):
    server = server_mod.make_server(
        '127.0.0.1', 0, app_mod.make_app(engine, nitride_conf))
    thread = threading.Thread(target=server.serve_forever)
    thread.start()
    yield server.server_address
    server.shutdown()
    thread.join(TIMEOUT)
    server.server_close()


def _exchange(address, data: bytes) -> bytes:
    with socket.create_connection(address, timeout=TIMEOUT) as client:
        client.sendall(data)
        try:
            client.shutdown(socket.SHUT_WR)
        except OSError:
            pass  # the server answered and closed already
        answer = b''
        while True:
            try:
                part = client.recv(65536)
            except ConnectionResetError:
                return answer
            if not part:
                return answer
            answer += part


def _client_error(status: int) -> bool:
    """A 2xx-4xx, or 505 (HTTP/2 and later: the client's, as a 5xx)."""
    return status < 500 or status == 505


@FUZZ
@given(REQUESTS)
def test_arbitrary_bytes_on_the_wire(address, data):
    answer = _exchange(address, data)
    if answer.startswith(b'{'):
        # An HTTP/0.9 answer (to a request line without a version): the
        # body alone, our problem.
        assert _client_error(json.loads(answer)['status']), answer[:300]
    elif answer:
        status_line = answer.split(b'\r\n', 1)[0]
        assert status_line.startswith(b'HTTP/1.'), answer[:200]
        assert _client_error(int(status_line.split(b' ')[1])), answer[:300]
    else:
        # As http.server splits the request line: a blank one is ignored.
        assert not data.split(b'\n', 1)[0].decode('latin-1').split()
    # Still serving.
    assert _exchange(address, b'GET /v1/jwks HTTP/1.0\r\n\r\n').startswith(
        b'HTTP/1.0 200 ')
