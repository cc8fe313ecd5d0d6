"""Serve one WSGI application on loopback until SIGTERM: Keystone, Horizon.

``python -m tests.dashboard.wsgi_serve PORT MODULE:CALLABLE [--factory]
[--static]``: ``--factory`` calls CALLABLE for the application (Keystone's
``initialize_public_application``); ``--static`` wraps a Django
application in Django's static files handler (Horizon without a web
server in front of it).
"""

import argparse
import importlib
import signal
import sys
import threading

from buckypaper_os.nitride_service.api import server as api_server


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument('port', type=int)
    parser.add_argument('application')
    parser.add_argument('--factory', action='store_true')
    parser.add_argument('--static', action='store_true')
    args = parser.parse_args()
    del sys.argv[1:]  # Keystone parses the command line again
    module, name = args.application.split(':')
    application = getattr(importlib.import_module(module), name)
    if args.factory:
        application = application()
    if args.static:
        from django.contrib.staticfiles import handlers
        application = handlers.StaticFilesHandler(application)
    server = api_server.make_server('127.0.0.1', args.port, application)
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    print('listening on port %d' % server.server_address[1], flush=True)
    stop.wait()
    server.shutdown()
    server.server_close()
    return 0


if __name__ == '__main__':
    sys.exit(main())
