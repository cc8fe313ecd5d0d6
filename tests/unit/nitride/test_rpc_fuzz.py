"""Nitride's RPC methods called with arbitrary JSON-like arguments.

oslo.messaging hands a worker whatever JSON a caller sent. Each method
either answers or raises one of its documented errors
(:class:`engine.Refused`, :class:`policy.Forbidden`), which travel back to
the caller as themselves; ``authorize_release`` answers ``allowed: False``
for anything that is not a valid ticket. Nothing else may escape.
"""

import base64
import uuid

from hypothesis import given
from hypothesis import HealthCheck
from hypothesis import settings
from hypothesis import strategies as st
from oslo_context import context as context_mod
import oslo_messaging as messaging
import pytest

from buckypaper_os.nitride_service import decision
from buckypaper_os.nitride_service import engine as engine_mod
from buckypaper_os.nitride_service import manager as manager_mod
from buckypaper_os.nitride_service import policy
from tests import fuzzing
from tests.unit.nitride import guests

PROJECT = 'project-a'
INSTANCE = str(uuid.uuid4())
ADMIN = context_mod.RequestContext(user_id='admin', project_id='admin',
                                   roles=['admin', 'service'])
TENANT = context_mod.RequestContext(user_id='alice', project_id=PROJECT,
                                    roles=['member'])
DOCUMENTED = (engine_mod.Refused, policy.Forbidden)
FUZZ = settings(fuzzing.settings_for(150), suppress_health_check=[
    HealthCheck.too_slow, HealthCheck.function_scoped_fixture])


def _plausible(*values):
    """Mostly ``values``, so that whole calls get past the type checks."""
    return st.one_of(*[st.sampled_from(values)] * 3, fuzzing.JSON)


UUIDS = _plausible(INSTANCE, str(uuid.uuid4()), INSTANCE.upper())
PROJECTS = _plausible(PROJECT, 'project-b', '')
TEES = _plausible('sev-snp', 'tdx', 'sgx')
HEX = _plausible(guests.MEASUREMENT.hex(), 'zz', '')
B64 = st.one_of(fuzzing.JSON, st.binary(max_size=64).map(
    lambda b: base64.b64encode(b).decode()))
DOCUMENTS = _plausible({}, {'allow_debug': True}, {'token_lifetime': 5},
                       {'min_tcb': {'snp': 1}}, {'measurements': ['aa']})
ARGUMENTS = {
    'register_instance': dict(
        instance_uuid=UUIDS, project_id=PROJECTS, tee=TEES,
        measurements=st.one_of(fuzzing.JSON, st.lists(HEX, max_size=3)),
        binding=HEX, policy=DOCUMENTS, flavor_id=PROJECTS),
    'remove_instance': dict(instance_uuid=UUIDS),
    'get_status': dict(instance_uuid=UUIDS),
    'get_reference': dict(instance_uuid=UUIDS),
    'verify': dict(evidence=B64, tee=TEES, certs=st.one_of(
        fuzzing.JSON, st.lists(B64, max_size=2)), collateral=st.one_of(
        fuzzing.JSON, st.dictionaries(st.text(max_size=8), B64,
                                      max_size=2)),
        at=_plausible('2026-01-01T00:00:00', 'yesterday'), policy=DOCUMENTS),
    'get_policy': dict(scope=_plausible('project', 'flavor', 'x'),
                       scope_id=PROJECTS),
    'set_policy': dict(scope=_plausible('project', 'flavor', 'x'),
                       scope_id=PROJECTS, document=DOCUMENTS),
    'export': dict(instance_uuid=UUIDS, project_id=PROJECTS),
}


@pytest.fixture
def manager(engine):
    engine.register(INSTANCE, PROJECT, 'sev-snp', [guests.MEASUREMENT.hex()])
    return manager_mod.NitrideManager(engine)


@FUZZ
@given(st.sampled_from(sorted(ARGUMENTS)), st.sampled_from([ADMIN, TENANT]),
       st.data())
def test_arbitrary_arguments(manager, method, context, data):
    arguments = data.draw(st.fixed_dictionaries(ARGUMENTS[method]))
    try:
        getattr(manager, method)(context, **arguments)
    except messaging.ExpectedException as exc:
        # What oslo.messaging sends back to the caller as itself.
        assert isinstance(exc.exc_info[1], DOCUMENTED), exc.exc_info
        assert str(exc.exc_info[1])


@FUZZ
@given(st.one_of(fuzzing.JSON, st.text(max_size=200)),
       _plausible('secret-ref'), PROJECTS, st.one_of(
           fuzzing.JSON, st.fixed_dictionaries(
               {'instance': UUIDS}, optional={
                   'project': PROJECTS, 'tee': TEES,
                   'min_tcb': fuzzing.JSON})),
       st.one_of(st.none(), fuzzing.JSON, st.just(decision.new_challenge())))
def test_arbitrary_release_questions(manager, ticket, secret_ref, project,
                                     release_policy, challenge):
    try:
        answer = manager.authorize_release(ADMIN, ticket, secret_ref,
                                           project, release_policy,
                                           challenge)
    except messaging.ExpectedException as exc:  # a malformed question
        assert isinstance(exc.exc_info[1], engine_mod.Refused)
        assert exc.exc_info[1].code == 400
        return
    assert answer['allowed'] is False and answer['reasons']
    assert 'tee_public_key' not in answer


@pytest.mark.parametrize('method, arguments', [
    ('register_instance', dict(instance_uuid=[], project_id=PROJECT,
                               tee='sev-snp', measurements=[])),
    ('register_instance', dict(instance_uuid=INSTANCE, project_id=PROJECT,
                               tee='sev-snp', measurements=[[]])),
    ('get_status', dict(instance_uuid={'a': 1})),
    ('verify', dict(evidence='', collateral=[None])),
    ('authorize_release', dict(ticket='', secret_ref='s', project_id=[],
                               release_policy={})),
    ('authorize_release', dict(ticket='', secret_ref='s', project_id='p',
                               release_policy={}, challenge=[1])),
])
def test_wrong_argument_types_are_refused(manager, method, arguments):
    """Regression: DBError, AttributeError out of the RPC methods."""
    with pytest.raises(messaging.ExpectedException) as exc:
        getattr(manager, method)(ADMIN, **arguments)
    refused = exc.value.exc_info[1]
    assert isinstance(refused, engine_mod.Refused) and refused.code == 400
