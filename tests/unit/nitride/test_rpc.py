"""The RPC API over oslo.messaging's in-process fake transport."""

import uuid

from oslo_context import context as context_mod
import oslo_messaging as messaging
import pytest

from buckypaper_os.nitride_service import decision
from buckypaper_os.nitride_service import engine as engine_mod
from buckypaper_os.nitride_service import manager
from buckypaper_os.nitride_service import policy
from buckypaper_os.nitride_service import rpc
from buckypaper_os.nitride_service import rpcapi
from tests.unit.nitride import guests
from tests import vectors

PROJECT = 'project-a'
SERVICE = context_mod.RequestContext(user_id='nova', project_id='service',
                                     roles=['service'])
TENANT = context_mod.RequestContext(user_id='alice', project_id=PROJECT,
                                    roles=['member', 'reader'])
STRANGER = context_mod.RequestContext(user_id='eve', project_id='project-e',
                                      roles=['member'])


@pytest.fixture
def api(nitride_conf, engine):
    nitride_conf.set_override('topic', 'nitride-%s' % uuid.uuid4().hex,
                              'nitride')
    transport = rpc.get_transport(nitride_conf, url='fake://')
    server = messaging.get_rpc_server(
        transport, rpc.target(nitride_conf, server='test'),
        [manager.NitrideManager(engine)],
        serializer=rpc.ContextSerializer())
    server.start()
    yield rpcapi.NitrideAPI(nitride_conf, transport, timeout=10)
    server.stop()
    server.wait()
    transport.cleanup()
    nitride_conf.clear_override('topic', 'nitride')


def test_register_attest_release_over_rpc(api, engine, pki,
                                          decision_key_file):
    instance = str(uuid.uuid4())
    answer = api.register_instance(SERVICE, instance, PROJECT, 'sev-snp',
                                   [guests.MEASUREMENT.hex()])
    assert answer['binding'] == guests.Guest(
        pki, instance, PROJECT).attester.report(bytes(64))[0xC0:0xE0].hex()
    guest = guests.Guest(pki, instance, PROJECT)
    nonce = engine_mod.b64decode(engine.challenge(instance)['nonce'], 'n', 64)
    report, certs = guest.evidence(nonce)
    ticket = engine.attest(instance, nonce, report, certs,
                           guest.public_key)['token']
    challenge = decision.new_challenge()
    answer = api.authorize_release(SERVICE, ticket, 'secret-1', PROJECT,
                                   {'instance': instance}, challenge)
    assert answer['allowed'] is True
    assert answer['tee_public_key'] == engine_mod.b64encode(
        guest.public_key)
    decision.verify(
        [decision.load_private_key(decision_key_file).public_key()],
        answer['signature'], decision.statement(
            challenge, ticket, 'secret-1', PROJECT, {'instance': instance},
            instance, answer['tee_public_key']))
    for malformed in ('AAAA', None):  # None: a caller of RPC 1.0-1.1
        with pytest.raises(engine_mod.Refused, match='challenge is not'):
            api.authorize_release(SERVICE, ticket, 'secret-1', PROJECT,
                                  {'instance': instance}, malformed)
    status = api.get_status(TENANT, instance)
    assert status['status'] == 'affirming' and status['simulated'] is True
    with pytest.raises(policy.Forbidden):
        api.get_status(STRANGER, instance)
    exported = api.export(TENANT, instance_uuid=instance)
    assert len(exported['attestations']) == 1
    with pytest.raises(policy.Forbidden):
        api.export(STRANGER, instance_uuid=instance)


def test_refusals_arrive_as_refused_with_reasons(api):
    with pytest.raises(engine_mod.Refused) as exc:
        api.register_instance(SERVICE, 'not-a-uuid', PROJECT, 'sev-snp', [])
    assert exc.value.code == 400
    assert exc.value.reasons == ["instance 'not-a-uuid' is not a UUID"]


@pytest.mark.parametrize('call, args', [
    ('register_instance', (str(uuid.uuid4()), PROJECT, 'sev-snp', [])),
    ('remove_instance', (str(uuid.uuid4()),)),
    ('authorize_release', ('t', 's', PROJECT, {}, decision.new_challenge())),
    ('set_policy', ('project', PROJECT, {})),
    ('verify', (b'x',)),
])
def test_tenants_may_not_call_service_methods(api, call, args):
    with pytest.raises(policy.Forbidden, match='not allowed'):
        getattr(api, call)(TENANT, *args)


def test_policies_admin_only_to_set(api):
    admin = context_mod.RequestContext(user_id='root', project_id='admin',
                                       roles=['admin'])
    document = {'min_tcb': {'snp': 8}}
    assert api.set_policy(admin, 'project', PROJECT, document) == document
    assert api.get_policy(TENANT, 'project', PROJECT) == document
    with pytest.raises(policy.Forbidden):
        api.get_policy(STRANGER, 'project', PROJECT)


@vectors.needs_vectors
@pytest.mark.parametrize('name', vectors.case_names())
def test_verify_every_vector_over_rpc(api, name):
    case = vectors.Case(name)
    answer = api.verify(SERVICE, case.evidence, tee=case.expected['tee'],
                        certs=case.certs,
                        collateral=case.collateral_files(), at=case.at)
    case.check(answer)


def test_reference_values_shown_to_owner_only(api):
    instance = str(uuid.uuid4())
    admin = context_mod.RequestContext(user_id='root', project_id='admin',
                                       roles=['admin'])
    assert api.get_reference(admin, instance) is None
    api.register_instance(SERVICE, instance, PROJECT, 'tdx', ['AB' * 48],
                          flavor_id='f1')
    reference = api.get_reference(TENANT, instance)
    assert reference['measurements'] == ['ab' * 48]
    assert (reference['tee'], reference['flavor_id']) == ('tdx', 'f1')
    with pytest.raises(policy.Forbidden):
        api.get_reference(STRANGER, instance)


def test_contexts_travel_without_tokens_or_extra_fields():
    context = context_mod.RequestContext(
        user_id='nova', project_id='service', roles=['service'],
        auth_token='gAAAAA-user-token', user_domain_id='default',
        request_id='req-1', overwrite=False)
    sent = rpc.ContextSerializer().serialize_context(context)
    assert set(sent) <= set(rpc.CONTEXT_FIELDS)
    assert 'gAAAAA-user-token' not in repr(sent)
    # A Nova-style dict (service catalog, remote address) is filtered too.
    as_dict = dict(context.to_dict(), service_catalog=[{'type': 'x'}],
                   remote_address='10.0.0.1')
    assert rpc.ContextSerializer().serialize_context(as_dict) == sent
    received = rpc.ContextSerializer().deserialize_context(sent)
    assert (received.user_id, received.project_id, received.roles,
            received.user_domain_id, received.request_id) == (
        'nova', 'service', ['service'], 'default', 'req-1')
    assert received.auth_token is None
