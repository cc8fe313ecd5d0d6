"""Serve Barbican's API from its paste app on loopback (demo, tests, bench).

Usage: ``python -m buckypaper_os.demo.barbican_server PASTE_INI PORT
[--nitride-config FILE]``, with ``HOME`` holding
``.barbican/barbican.conf`` (Barbican reads its configuration at import).
A thread per request, like a small uWSGI.

With ``--nitride-config`` the process also runs a Nitride RPC worker
configured by FILE, started before Barbican is imported (Barbican replaces
``oslo_config.cfg.CONF`` with its own). Both then share one process, so an
in-process transport (``fake://``) carries the Vault's calls to Nitride.
"""

import argparse
import socketserver
from wsgiref import simple_server


class QuietHandler(simple_server.WSGIRequestHandler):
    """Logs no request lines: their query strings carry tickets."""

    def log_request(self, *args, **kwargs) -> None:
        pass


class ThreadingServer(socketserver.ThreadingMixIn,
                      simple_server.WSGIServer):
    daemon_threads = True
    request_queue_size = 128


def start_nitride(config_file: str):
    """A started Nitride RPC worker configured by ``config_file``."""
    from oslo_log import log as logging

    from buckypaper_os import conf as bp_conf
    from buckypaper_os.nitride_service import service

    logging.register_options(bp_conf.CONF)
    bp_conf.CONF(['--config-file', config_file], project='buckypaper',
                 prog='buckypaper-nitride', default_config_files=[])
    logging.setup(bp_conf.CONF, 'buckypaper-nitride')
    server = service.build_server(bp_conf.CONF,
                                  service.build_engine(bp_conf.CONF))
    server.start()
    return server


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument('paste_ini')
    parser.add_argument('port', type=int)
    parser.add_argument('--nitride-config')
    args = parser.parse_args()
    if args.nitride_config:
        start_nitride(args.nitride_config)
    from paste import deploy
    app = deploy.loadapp('config:%s' % args.paste_ini, name='main')
    server = simple_server.make_server('127.0.0.1', args.port, app,
                                       server_class=ThreadingServer,
                                       handler_class=QuietHandler)
    print('barbican listening on 127.0.0.1 port %d'
          % server.server_address[1], flush=True)
    server.serve_forever()


if __name__ == '__main__':
    main()
