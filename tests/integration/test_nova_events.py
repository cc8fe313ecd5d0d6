"""Workers forget the instances Nova deleted, from its notifications.

Real RabbitMQ, two real workers listening in one pool; the notifications
are sent as Nova sends them (oslo.messaging's messagingv2 driver), in the
versioned and the legacy form.
"""

import shutil
import time
import uuid

from oslo_context import context as context_mod
import oslo_messaging as messaging
import pytest
import sqlalchemy as sa

from tests.integration import conftest as harness
from tests.unit.nitride import guests

SERVICE = context_mod.RequestContext(user_id='nova', project_id='svc',
                                     roles=['service'])
PROJECT = 'project-n'


@pytest.fixture(scope='module')
def listening(broker, tmp_path_factory, pki_dir):
    if shutil.which('buckypaper-nitride') is None:
        pytest.skip('buckypaper-nitride is not installed')
    topic = 'versioned_notifications_%s' % uuid.uuid4().hex[:8]
    legacy = 'notifications_%s' % uuid.uuid4().hex[:8]
    deployment = harness.Deployment(
        str(tmp_path_factory.mktemp('nova-events')), broker, pki_dir,
        workers=2, options={'nitride': {
            'nova_notification_topics': '%s,%s' % (topic, legacy)}})
    transport = messaging.get_notification_transport(deployment.conf,
                                                     url=broker)
    # As Nova sends them: each form on its own topic.
    notifiers = {form: messaging.Notifier(
        transport, publisher_id='nova-compute:compute-1',
        driver='messagingv2', topics=[name])
        for form, name in (('versioned', topic), ('legacy', legacy))}
    yield deployment, notifiers
    deployment.stop()


def _registered(deployment) -> str:
    instance = str(uuid.uuid4())
    deployment.api.register_instance(SERVICE, instance, PROJECT, 'sev-snp',
                                     [guests.MEASUREMENT.hex()])
    return instance


def _rows(deployment, query: str, instance: str) -> list:
    engine = sa.create_engine('sqlite:///%s' % deployment.db)
    with engine.connect() as conn:
        rows = conn.execute(sa.text(query), {'i': instance}).all()
    engine.dispose()
    return [tuple(r) for r in rows]


def _audited(deployment, instance) -> list:
    return _rows(deployment, 'SELECT event, decision FROM audit_log WHERE '
                 'instance_uuid = :i ORDER BY id', instance)


def _registered_still(deployment, instance) -> bool:
    return bool(_rows(deployment, 'SELECT 1 FROM reference_values WHERE '
                      'instance_uuid = :i UNION SELECT 1 FROM '
                      'instance_bindings WHERE instance_uuid = :i',
                      instance))


def _gone(deployment, instance, timeout=30) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if not _registered_still(deployment, instance):
            return True
        time.sleep(0.2)
    return False


def test_versioned_delete_removes_the_instance(listening):
    deployment, notifiers = listening
    instance = _registered(deployment)
    notifiers['versioned'].info({}, 'instance.delete.end', {
        'nova_object.name': 'InstanceActionPayload',
        'nova_object.data': {'uuid': instance, 'state': 'deleted'}})
    assert _gone(deployment, instance), deployment.logs()
    # Each worker got the event only once between them: one removal.
    assert _audited(deployment, instance) == [
        ('register', 'registered'), ('remove', 'removed')]


def test_legacy_delete_removes_the_instance(listening):
    deployment, notifiers = listening
    instance = _registered(deployment)
    notifiers['legacy'].info({}, 'compute.instance.delete.end', {
        'instance_id': instance, 'state': 'deleted'})
    assert _gone(deployment, instance), deployment.logs()


def test_other_events_and_servers_change_nothing(listening):
    deployment, notifiers = listening
    notifier = notifiers['versioned']
    instance = _registered(deployment)
    notifier.info({}, 'instance.delete.start', {
        'nova_object.data': {'uuid': instance}})
    stranger = str(uuid.uuid4())  # a server that is not confidential
    notifier.info({}, 'instance.delete.end', {
        'nova_object.data': {'uuid': stranger}})
    marker = _registered(deployment)
    notifier.info({}, 'instance.delete.end', {
        'nova_object.data': {'uuid': marker}})
    assert _gone(deployment, marker), deployment.logs()
    assert _registered_still(deployment, instance)
    assert _audited(deployment, stranger) == []
