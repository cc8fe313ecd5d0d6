"""The endpoint that forgets the instances Nova deleted."""

import uuid

import oslo_messaging as messaging
import pytest

from buckypaper_os.nitride_service.db import api as db_api
from buckypaper_os.nitride_service import nova_events

VERSIONED = 'instance.delete.end'


@pytest.mark.parametrize('payload, expected', [
    ({'nova_object.data': {'uuid': 'u-1'}}, 'u-1'),
    ({'instance_id': 'u-2'}, 'u-2'),
    ({'nova_object.data': {'uuid': 7}}, None),
    ({'nova_object.data': 'u-3'}, None),
    ({}, None), ([], None), (None, None), ({'instance_id': ''}, None),
])
def test_instance_of_a_payload(payload, expected):
    assert nova_events.instance_uuid(payload) == expected


def test_only_delete_end_events_pass_the_filter():
    rule = nova_events.DeletedInstances.filter_rule
    for event, wanted in ((VERSIONED, True),
                          ('compute.instance.delete.end', True),
                          ('instance.delete.start', False),
                          ('instance.delete.end.extra', False)):
        assert rule.match({}, 'nova-compute:h', event, {}, {}) is wanted


def test_a_failed_removal_is_delivered_again(engine, monkeypatch):
    instance = str(uuid.uuid4())
    engine.register(instance, 'p', 'sev-snp', ['5a' * 48])
    endpoint = nova_events.DeletedInstances(engine)

    def down(instance_uuid):
        raise RuntimeError('database is locked')

    monkeypatch.setattr(engine, 'remove', down)
    payload = {'nova_object.data': {'uuid': instance}}
    assert endpoint.info({}, 'nova-compute:h', VERSIONED, payload, {}) == (
        messaging.NotificationResult.REQUEUE)
    monkeypatch.undo()
    assert endpoint.info({}, 'nova-compute:h', VERSIONED, payload, {}) == (
        messaging.NotificationResult.HANDLED)
    assert db_api.reference_get(instance) is None
    assert db_api.binding_get(instance) is None
