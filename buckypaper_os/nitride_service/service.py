"""``buckypaper-nitride``: an RPC worker of the Nitride verifier.

Any number of workers may serve one topic: they share the database and
keep no state of their own. With ``[nitride] nova_notification_topics``
they also remove the instances Nova deleted (:mod:`nova_events`). Each
also deletes expired challenge nonces every ``[nitride]
nonce_purge_interval`` seconds (idempotent, so any number may). SIGTERM
or SIGINT stops a worker after the calls it is serving.
"""

import sys
import threading
import typing

from oslo_log import log as logging
import oslo_messaging as messaging

from buckypaper_os import conf as bp_conf
from buckypaper_os.nitride_service import audit
from buckypaper_os.nitride_service import daemon
from buckypaper_os.nitride_service.db import api as db_api
from buckypaper_os.nitride_service import decision
from buckypaper_os.nitride_service import engine as engine_mod
from buckypaper_os.nitride_service import manager
from buckypaper_os.nitride_service import nova_events
from buckypaper_os.nitride_service import rpc

CONF = bp_conf.CONF
LOG = logging.getLogger(__name__)


def build_engine(conf) -> engine_mod.Engine:
    """The engine of a worker, notifying its audit events.

    Only workers load ``[nitride] decision_key_file``: the guest API never
    signs release decisions, so it never holds that key.
    """
    path = conf.nitride.decision_key_file
    return engine_mod.Engine(
        conf, audit.Auditor(rpc.get_notifier(conf)),
        decision.load_private_key(path) if path else None)


def build_server(conf, engine: engine_mod.Engine
                 ) -> messaging.MessageHandlingServer:
    """An RPC server of the Nitride manager on the configured topic."""
    return messaging.get_rpc_server(
        rpc.get_transport(conf), rpc.target(conf, server=conf.host),
        [manager.NitrideManager(engine)],
        serializer=rpc.ContextSerializer())


def may_quiet(conf, listener: typing.Optional[
        messaging.MessageHandlingServer]) -> bool:
    """May this worker's listeners skip idle polling (:mod:`.rpc`)?

    Yes unless it also listens to Nova with a prefetch limit: the broker
    then waits for acknowledgements, which quiet polling defers by a
    second or more, and the events would trickle in at about the limit
    per second.
    """
    rabbit = getattr(conf, 'oslo_messaging_rabbit', None)
    return listener is None or not getattr(
        rabbit, 'rabbit_qos_prefetch_count', 0)


def purge_nonces(conf, stop: threading.Event) -> None:
    """Delete expired nonces every interval until ``stop`` is set.

    The rate limit bounds how fast an instance adds nonces; this bounds
    how long they stay. A failed purge is logged and tried again later.
    """
    while not stop.wait(conf.nitride.nonce_purge_interval):
        try:
            purged = db_api.nonce_purge()
        except Exception as exc:  # the database is down or locked: later
            LOG.warning('purging expired nonces failed (%s)',
                        type(exc).__name__)
            continue
        LOG.debug('purged %d expired nonces', purged)


def main(argv: typing.Optional[list] = None) -> int:
    """Run one worker until SIGTERM or SIGINT."""
    daemon.prepare(argv, 'buckypaper-nitride')
    engine = build_engine(CONF)
    server = build_server(CONF, engine)
    listener = nova_events.build_listener(CONF, engine)
    if may_quiet(CONF, listener):
        rpc.quiet_idle_polling()
    server.start()
    if listener is not None:
        listener.start()
    stop = threading.Event()
    purger = threading.Thread(target=purge_nonces, args=(CONF, stop),
                              name='nonce-purge', daemon=True)
    purger.start()
    LOG.info('Nitride worker %s serving topic %s', CONF.host,
             CONF.nitride.topic)
    LOG.info('signal %d: stopping', daemon.wait_for_signal())
    stop.set()
    for running in (server, listener):
        if running is not None:
            running.stop()
            running.wait()
    purger.join()
    return 0


if __name__ == '__main__':
    sys.exit(main())
