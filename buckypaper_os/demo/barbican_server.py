"""Serve Barbican's API from its paste app on loopback (tests, bench).

Usage: ``python -m tests.functional.barbican_server PASTE_INI PORT``, with
``HOME`` holding ``.barbican/barbican.conf`` (Barbican reads its
configuration at import). A thread per request, like a small uWSGI.
"""

import socketserver
import sys
from wsgiref import simple_server


class QuietHandler(simple_server.WSGIRequestHandler):
    """Logs no request lines: their query strings carry tickets."""

    def log_request(self, *args, **kwargs) -> None:
        pass


class ThreadingServer(socketserver.ThreadingMixIn,
                      simple_server.WSGIServer):
    daemon_threads = True
    request_queue_size = 128


def main() -> None:
    from paste import deploy
    paste_ini, port = sys.argv[1], int(sys.argv[2])
    app = deploy.loadapp('config:%s' % paste_ini, name='main')
    server = simple_server.make_server('127.0.0.1', port, app,
                                       server_class=ThreadingServer,
                                       handler_class=QuietHandler)
    print('barbican listening on 127.0.0.1 port %d'
          % server.server_address[1], flush=True)
    server.serve_forever()


if __name__ == '__main__':
    main()
