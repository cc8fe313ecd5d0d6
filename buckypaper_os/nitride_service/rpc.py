"""oslo.messaging plumbing of Nitride: transports, target, serializer.

Bytes never travel as bytes: callers encode them as base64 text, so the
same messages pass through any driver. Request contexts travel as dicts.
"""

import typing

from oslo_config import cfg
from oslo_context import context as context_mod
import oslo_messaging as messaging

#: Version of the RPC API (rpcapi.NitrideAPI and manager.NitrideManager).
API_VERSION = '1.1'
#: Modules whose exceptions are rebuilt on the calling side.
ALLOWED_EXMODS = ['buckypaper_os.nitride_service.engine',
                  'buckypaper_os.nitride_service.policy']


class ContextSerializer(messaging.NoOpSerializer):
    """Sends oslo.context request contexts as dicts and rebuilds them."""

    def serialize_context(self, context) -> dict:
        if isinstance(context, context_mod.RequestContext):
            return context.to_dict()
        return dict(context or {})

    def deserialize_context(self, context: dict
                            ) -> context_mod.RequestContext:
        return context_mod.RequestContext.from_dict(context or {})


def get_transport(conf: cfg.ConfigOpts,
                  url: typing.Optional[str] = None
                  ) -> messaging.Transport:
    """The RPC transport of ``[DEFAULT] transport_url`` (or ``url``)."""
    return messaging.get_rpc_transport(conf, url=url,
                                       allowed_remote_exmods=ALLOWED_EXMODS)


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
