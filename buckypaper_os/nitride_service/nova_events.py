"""Forget instances that Nova deleted, from Nova's notifications.

Nova's driver calls ``remove_instance`` when it destroys a guest. When the
compute service is down, Nova's API deletes the server locally and no
driver runs: the registration (and so the disk key's releasability)
would outlive the server, and a host that comes back could relaunch the
same measurement and binding. With ``[nitride]
nova_notification_topics`` set, each worker also listens (in one shared
pool, so each event is handled once) for Nova's ``instance.delete.end``
(versioned) and ``compute.instance.delete.end`` (legacy) notifications
and removes the instance, audited like any removal.
"""

import typing

from oslo_config import cfg
from oslo_log import log as logging
import oslo_messaging as messaging

from buckypaper_os.nitride_service.db import api as db_api
from buckypaper_os.nitride_service import engine as engine_mod

LOG = logging.getLogger(__name__)

#: The listeners' pool: the workers share one queue per topic.
POOL = 'buckypaper-nitride'
EVENTS = r'^(compute\.)?instance\.delete\.end$'


def instance_uuid(payload: typing.Any) -> typing.Optional[str]:
    """The deleted instance of a versioned or legacy payload, or None."""
    if not isinstance(payload, dict):
        return None
    data = payload.get('nova_object.data')
    if isinstance(data, dict):
        value = data.get('uuid')
    else:
        value = payload.get('instance_id')
    return value if isinstance(value, str) and value else None


class DeletedInstances:
    """Notification endpoint: removes each deleted instance."""

    filter_rule = messaging.NotificationFilter(event_type=EVENTS)

    def __init__(self, engine: engine_mod.Engine) -> None:
        self.engine = engine

    def info(self, ctxt, publisher_id: str, event_type: str,
             payload: typing.Any, metadata: dict):
        instance = instance_uuid(payload)
        if instance is None:
            LOG.warning('%s from %s names no instance: ignored', event_type,
                        publisher_id)
            return messaging.NotificationResult.HANDLED
        try:
            # Most servers are not confidential: nothing to forget, and
            # nothing to audit.
            removed = (db_api.binding_get(instance) is not None
                       or db_api.reference_get(instance) is not None
                       ) and self.engine.remove(instance)
        except Exception as exc:  # the database is down: the event stays
            LOG.warning('removing deleted instance %s failed (%s); it '
                        'will be tried again', instance, type(exc).__name__)
            return messaging.NotificationResult.REQUEUE
        if removed:
            LOG.info('Nova deleted instance %s: removed', instance)
        return messaging.NotificationResult.HANDLED


def build_listener(conf: cfg.ConfigOpts, engine: engine_mod.Engine
                   ) -> typing.Optional[messaging.MessageHandlingServer]:
    """The listener of ``[nitride] nova_notification_topics``, or None."""
    topics = conf.nitride.nova_notification_topics
    if not topics:
        return None
    transport = messaging.get_notification_transport(
        conf, url=conf.nitride.nova_notification_transport_url)
    return messaging.get_notification_listener(
        transport, [messaging.Target(topic=topic) for topic in topics],
        [DeletedInstances(engine)], executor='threading', pool=POOL,
        allow_requeue=True)
