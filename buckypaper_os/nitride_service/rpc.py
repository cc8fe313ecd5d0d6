"""oslo.messaging plumbing of Nitride: transports, target, serializer.

Bytes never travel as bytes: callers encode them as base64 text, so the
same messages pass through any driver. Request contexts travel as dicts of
the few fields Nitride's policy and logs use: never the caller's token.
"""

import typing

from oslo_config import cfg
from oslo_context import context as context_mod
from oslo_log import log as logging
import oslo_messaging as messaging

LOG = logging.getLogger(__name__)

#: Version of the RPC API (rpcapi.NitrideAPI and manager.NitrideManager).
API_VERSION = '1.2'
#: Modules whose exceptions are rebuilt on the calling side.
ALLOWED_EXMODS = ['buckypaper_os.nitride_service.engine',
                  'buckypaper_os.nitride_service.policy']


#: The context fields sent (names of ``RequestContext.to_dict``): who is
#: asking, in which scope, with which roles, and the request ids.
CONTEXT_FIELDS = ('user', 'project_id', 'domain', 'user_domain',
                  'project_domain', 'system_scope', 'roles', 'is_admin',
                  'is_admin_project', 'request_id', 'global_request_id')
#: Seconds an idle AMQP listener sleeps first (see
#: :func:`quiet_idle_polling`).
IDLE_POLL = 1.0


class ContextSerializer(messaging.NoOpSerializer):
    """Sends request contexts as dicts of :data:`CONTEXT_FIELDS`."""

    def serialize_context(self, context) -> dict:
        if isinstance(context, context_mod.RequestContext):
            context = context.to_dict()
        return {k: v for k, v in dict(context or {}).items()
                if k in CONTEXT_FIELDS}

    def deserialize_context(self, context: dict
                            ) -> context_mod.RequestContext:
        return context_mod.RequestContext.from_dict(context or {})


def get_transport(conf: cfg.ConfigOpts,
                  url: typing.Optional[str] = None
                  ) -> messaging.Transport:
    """The RPC transport of ``[DEFAULT] transport_url`` (or ``url``)."""
    return messaging.get_rpc_transport(conf, url=url,
                                       allowed_remote_exmods=ALLOWED_EXMODS)


def quiet_idle_polling() -> None:
    """Stop this process's AMQP listeners from polling when idle.

    After each message, oslo.messaging's rabbit driver wakes an idle
    listener after 1, 2, 4... ms (``amqpdriver.ACK_REQUEUE_EVERY_SECONDS_MIN``)
    so that acknowledgements deferred to the listener's thread go out
    promptly. Only notification listeners defer them: an RPC server
    acknowledges each request in the consumer callback (oslo.messaging bug
    1695746) and a reply listener each reply as it arrives. So for RPC
    those wake-ups are only cost: about 10-20 per message at tens of
    messages per second, a timeout raised through kombu each time and a
    fight for the GIL. Messages still wake a listener at once. With this, a
    notification listener in the same process (Nitride's
    :mod:`~buckypaper_os.nitride_service.nova_events`) acknowledges or
    requeues each event :data:`IDLE_POLL` seconds after handling it (up to
    oslo.messaging's 5 s maximum after a handler slower than that), and at
    shutdown the last second's acknowledgements may be lost: delivery stays
    at least once. With a prefetch limit the broker would wait for those
    acknowledgements, so workers that listen to Nova with one do not call
    this (:func:`~buckypaper_os.nitride_service.service.may_quiet`). The
    constant is private and shared by every listener of the process.
    """
    from oslo_messaging._drivers import amqpdriver
    current = getattr(amqpdriver, 'ACK_REQUEUE_EVERY_SECONDS_MIN', None)
    if not isinstance(current, (int, float)):
        LOG.warning('oslo.messaging has no idle polling interval to '
                    'relax; RPC calls cost more CPU')
        return
    amqpdriver.ACK_REQUEUE_EVERY_SECONDS_MIN = max(current, IDLE_POLL)


def get_notifier(conf: cfg.ConfigOpts) -> messaging.Notifier:
    """Notifier of audit events (``[oslo_messaging_notifications]``)."""
    transport = messaging.get_notification_transport(conf)
    return messaging.Notifier(transport,
                              publisher_id='nitride.%s' % conf.host)


def target(conf: cfg.ConfigOpts, server: typing.Optional[str] = None
           ) -> messaging.Target:
    """The RPC target of the Nitride topic."""
    return messaging.Target(topic=conf.nitride.topic, server=server,
                            version=API_VERSION)
