"""Raw socket and small HTTP server helpers of the HTTP-level tests."""

import contextlib
import http.server
import socket
import threading
import typing


def read_until_closed(connection: socket.socket) -> bytes:
    """Everything the peer sends until it closes the connection."""
    answer = b''
    while True:
        part = connection.recv(65536)
        if not part:
            return answer
        answer += part


@contextlib.contextmanager
def serving(handler: typing.Type[http.server.BaseHTTPRequestHandler]
            ) -> typing.Iterator[str]:
    """A threaded HTTP server on loopback with ``handler``; its URL."""
    server = http.server.ThreadingHTTPServer(('127.0.0.1', 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield 'http://127.0.0.1:%d' % server.server_address[1]
    finally:
        server.shutdown()
        server.server_close()
