"""``buckypaper-nitride-api``: the HTTP API on a small threaded server.

The guest API and, beside it, the authenticated tenant and operator API
(:mod:`~buckypaper_os.nitride_service.api.tenant`).

For development, tests and small clouds. Production runs
:mod:`buckypaper_os.nitride_service.api.wsgi` in uwsgi or mod_wsgi behind
a TLS-terminating proxy. SIGTERM or SIGINT stop the server cleanly.
"""

import http
import socket
import socketserver
import sys
import threading
import typing
from wsgiref import simple_server

from oslo_log import log as logging

from buckypaper_os import conf as bp_conf
from buckypaper_os.nitride_service.api import app as app_mod
from buckypaper_os.nitride_service.api import problems
from buckypaper_os.nitride_service.api import tenant
from buckypaper_os.nitride_service import daemon
from buckypaper_os.nitride_service import engine as engine_mod

CONF = bp_conf.CONF
LOG = logging.getLogger(__name__)

#: Seconds a client may stay silent before its connection is dropped.
CLIENT_TIMEOUT = 30
#: Pending connections queued by the kernel (capped by net.core.somaxconn).
LISTEN_BACKLOG = 1024
#: Default of ``[nitride_api] max_connections``.
MAX_CONNECTIONS = 256
#: Bytes of a request read (and dropped) before it is answered 503, and
#: the seconds the server waits for them.
BUSY_DRAIN = 64 * 1024
BUSY_WAIT = 0.05
_BUSY_BODY = problems.Problem(
    503, 'too many connections; retry later').response().body
#: The whole answer to a connection beyond ``max_connections``.
BUSY = (b'HTTP/1.1 503 Service Unavailable\r\nContent-Type: %s\r\n'
        b'Content-Length: %d\r\nRetry-After: 1\r\nCache-Control: no-store'
        b'\r\nConnection: close\r\n\r\n%s' % (
            problems.MEDIA_TYPE.encode(), len(_BUSY_BODY), _BUSY_BODY))


class _RequestHandler(simple_server.WSGIRequestHandler):
    """wsgiref's handler with a socket timeout, logging through oslo.log."""

    timeout = CLIENT_TIMEOUT
    server_version = 'buckypaper-nitride-api'
    sys_version = ''

    def log_message(self, format: str, *args) -> None:
        LOG.debug('%s %s', self.address_string(), format % args)

    def log_error(self, format: str, *args) -> None:
        LOG.warning('%s %s', self.address_string(), format % args)

    def send_error(self, code: int, message: typing.Optional[str] = None,
                   explain: typing.Optional[str] = None) -> None:
        """HTTP errors before the application (request line, headers).

        RFC 7807 problems like the application's, never quoting the
        request (http.server's messages may).
        """
        self.log_error('code %d, message %s', code, message)
        body = problems.Problem(
            code, http.HTTPStatus(code).phrase).response().body
        self.send_response(code)
        self.send_header('Connection', 'close')
        self.send_header('Content-Type', problems.MEDIA_TYPE)
        self.send_header('Content-Length', str(len(body)))
        self.send_header('Cache-Control', 'no-store')
        self.end_headers()
        if self.command != 'HEAD':
            self.wfile.write(body)


class _Server(socketserver.ThreadingMixIn, simple_server.WSGIServer):
    daemon_threads = True
    #: socketserver's default of 5 drops the connections of a boot storm.
    request_queue_size = LISTEN_BACKLOG
    #: Connections served at once (one thread each); set by make_server.
    slots: threading.BoundedSemaphore

    def process_request(self, request: socket.socket,
                        client_address) -> None:
        """Serve in a thread while a slot is free, else answer 503 now.

        With the limits of the request line, headers (http.server: 100
        lines of 64 KiB) and body (``max_request_bytes``), this bounds the
        memory clients can make the server hold.
        """
        if not self.slots.acquire(blocking=False):
            _busy(request)
            self.shutdown_request(request)
            return
        try:
            super().process_request(request, client_address)
        except BaseException:
            self.slots.release()
            raise

    def process_request_thread(self, request: socket.socket,
                               client_address) -> None:
        try:
            super().process_request_thread(request, client_address)
        finally:
            self.slots.release()


class _Server6(_Server):
    address_family = socket.AF_INET6


def _busy(connection: socket.socket) -> None:
    """Answer 503 on a connection there is no thread for, and drop it."""
    try:
        # A request left unread would reset the connection, 503 and all.
        connection.settimeout(BUSY_WAIT)
        connection.recv(BUSY_DRAIN)
    except OSError:
        pass
    try:
        connection.settimeout(1)
        connection.sendall(BUSY)
    except OSError:
        pass


def make_server(host: str, port: int, app,
                max_connections: int = MAX_CONNECTIONS) -> _Server:
    """A threaded WSGI server bound to ``host``:``port`` (0: any port).

    It serves ``max_connections`` at once; more are answered 503.
    """
    server_class = _Server6 if ':' in host else _Server
    server = server_class((host, port), _RequestHandler)
    server.slots = threading.BoundedSemaphore(max_connections)
    server.set_app(app)
    return server


def main(argv: typing.Optional[typing.List[str]] = None) -> int:
    """Entry point of ``buckypaper-nitride-api``."""
    daemon.prepare(argv, 'buckypaper-nitride-api')
    engine = engine_mod.Engine(CONF)
    app = tenant.mount(app_mod.make_app(engine, CONF), engine, CONF)
    server = make_server(CONF.nitride_api.bind_host,
                         CONF.nitride_api.bind_port, app,
                         CONF.nitride_api.max_connections)
    thread = threading.Thread(target=server.serve_forever,
                              name='nitride-api')
    thread.start()
    host, port = server.server_address[:2]
    LOG.info('Nitride guest API listening on %s port %d', host, port)
    LOG.info('signal %d: Nitride guest API stopping',
             daemon.wait_for_signal())
    server.shutdown()
    thread.join()
    server.server_close()
    return 0


if __name__ == '__main__':
    sys.exit(main())
