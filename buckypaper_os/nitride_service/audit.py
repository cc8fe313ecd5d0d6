"""The audit trail: every decision, in the database and as a notification.

The database row is the record of truth and is written first; a decision
whose record cannot be written is not taken (the caller gets an error). The
oslo.messaging notification (``nitride.<event>``) tells the rest of the
cloud. Neither carries key material: reasons are verifier messages.
"""

import contextlib
import typing

from oslo_log import log as logging
import oslo_messaging as messaging
import sqlalchemy as sa

from buckypaper_os.nitride_service.db import api as db_api

LOG = logging.getLogger(__name__)

#: Decisions that are refusals; they are notified at WARN priority.
REFUSED = 'refused'
#: Reasons kept per decision, and characters kept per reason: reasons may
#: quote what a client sent, and the log must not grow with it.
MAX_REASONS = 32
MAX_REASON = 512


class Auditor:
    """Appends decisions to the audit log and notifies them."""

    def __init__(self, notifier: typing.Optional[messaging.Notifier] = None
                 ) -> None:
        self._notifier = notifier

    def record(self, event: str, decision: str,
               reasons: typing.Sequence[str] = (), *,
               instance_uuid: typing.Optional[str] = None,
               project_id: typing.Optional[str] = None,
               **details) -> int:
        """Record one decision; the audit event id."""
        reasons = bounded(reasons)
        event_id = db_api.audit_append(event, decision, reasons,
                                       instance_uuid=instance_uuid,
                                       project_id=project_id,
                                       secret_ref=details.get('secret_ref'))
        self._announce(event_id, event, decision, reasons, instance_uuid,
                       project_id, details)
        return event_id

    @contextlib.contextmanager
    def deciding(self, event: str, decision: str,
                 reasons: typing.Sequence[str] = (), *,
                 instance_uuid: typing.Optional[str] = None,
                 project_id: typing.Optional[str] = None,
                 **details) -> typing.Iterator[sa.Connection]:
        """A write transaction that ends by recording the decision.

        What the block writes on the connection it is given and the audit
        record commit together (one transaction instead of two), or neither
        does; the decision is logged and notified once they have.
        """
        reasons = bounded(reasons)
        with db_api.writing() as connection:
            yield connection
            event_id = db_api.audit_append(
                event, decision, reasons, instance_uuid=instance_uuid,
                project_id=project_id, connection=connection)
        self._announce(event_id, event, decision, reasons, instance_uuid,
                       project_id, details)

    def _announce(self, event_id: int, event: str, decision: str,
                  reasons: typing.Sequence[str],
                  instance_uuid: typing.Optional[str],
                  project_id: typing.Optional[str], details: dict) -> None:
        LOG.info('audit %d: %s %s instance=%s project=%s reasons=%s',
                 event_id, event, decision, instance_uuid, project_id,
                 list(reasons))
        if self._notifier is not None:
            payload = dict(details, audit_id=event_id, decision=decision,
                           reasons=list(reasons), instance_uuid=instance_uuid,
                           project_id=project_id)
            send = (self._notifier.warn if decision == REFUSED
                    else self._notifier.info)
            send({}, 'nitride.%s' % event, payload)


def bounded(reasons: typing.Sequence[str]) -> typing.List[str]:
    """``reasons`` cut to :data:`MAX_REASONS` of :data:`MAX_REASON` chars."""
    return [r if len(r) <= MAX_REASON else r[:MAX_REASON] + '...'
            for r in map(str, list(reasons)[:MAX_REASONS])]
