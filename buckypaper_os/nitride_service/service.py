"""``buckypaper-nitride``: an RPC worker of the Nitride verifier.

Any number of workers may serve one topic: they share the database and
keep no state of their own. SIGTERM or SIGINT stops a worker after the
calls it is serving.
"""

import sys
import typing

from oslo_log import log as logging
import oslo_messaging as messaging

from buckypaper_os import conf as bp_conf
from buckypaper_os.nitride_service import audit
from buckypaper_os.nitride_service import daemon
from buckypaper_os.nitride_service import engine as engine_mod
from buckypaper_os.nitride_service import manager
from buckypaper_os.nitride_service import rpc

CONF = bp_conf.CONF
LOG = logging.getLogger(__name__)


def build_server(conf) -> messaging.MessageHandlingServer:
    """An RPC server of the Nitride manager on the configured topic."""
    engine = engine_mod.Engine(conf, audit.Auditor(rpc.get_notifier(conf)))
    return messaging.get_rpc_server(
        rpc.get_transport(conf), rpc.target(conf, server=conf.host),
        [manager.NitrideManager(engine)],
        serializer=rpc.ContextSerializer())


def main(argv: typing.Optional[list] = None) -> int:
    """Run one worker until SIGTERM or SIGINT."""
    daemon.prepare(argv, 'buckypaper-nitride')
    server = build_server(CONF)
    server.start()
    LOG.info('Nitride worker %s serving topic %s', CONF.host,
             CONF.nitride.topic)
    LOG.info('signal %d: stopping', daemon.wait_for_signal())
    server.stop()
    server.wait()
    return 0


if __name__ == '__main__':
    sys.exit(main())
