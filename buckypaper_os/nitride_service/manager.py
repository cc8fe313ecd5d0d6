"""RPC endpoints of Nitride: policy checks, then the engine decides."""

import base64
import binascii
import datetime
import typing

from oslo_context import context as context_mod
import oslo_messaging as messaging

from buckypaper_os.nitride_service import decision
from buckypaper_os.nitride_service import engine as engine_mod
from buckypaper_os.nitride_service import policy
from buckypaper_os.nitride_service import rpc

Context = context_mod.RequestContext
#: Longest project, flavor or scope id (the database columns' size).
MAX_ID = 255
#: Exceptions that are answers, not failures: no traceback in the log.
_EXPECTED = (engine_mod.Refused, policy.Forbidden)


def _text(value, what: str, optional: bool = False) -> None:
    if not (optional and value is None or isinstance(value, str) and (
            0 < len(value) <= MAX_ID)):
        raise engine_mod.Refused('%s must be a string of 1..%d characters'
                                 % (what, MAX_ID), 400)


def _object(value, what: str) -> None:
    if not (value is None or isinstance(value, dict)):
        raise engine_mod.Refused('%s must be an object' % what, 400)


def _strings(value, what: str) -> None:
    if not (isinstance(value, (list, tuple)) and all(
            isinstance(item, str) for item in value)):
        raise engine_mod.Refused('%s must be a list of strings' % what, 400)


def _bytes(text: str, what: str) -> bytes:
    try:
        return base64.b64decode(text, validate=True)
    except (binascii.Error, TypeError, ValueError):
        raise engine_mod.Refused('%s is not base64' % what, 400) from None


class NitrideManager:
    """The methods workers serve on the ``nitride`` topic."""

    target = messaging.Target(version=rpc.API_VERSION)

    def __init__(self, engine: engine_mod.Engine) -> None:
        self.engine = engine

    @messaging.expected_exceptions(*_EXPECTED)
    def register_instance(self, context: Context, instance_uuid: str,
                          project_id: str, tee: str, measurements: list,
                          binding: typing.Optional[str] = None,
                          policy: typing.Optional[dict] = None,
                          flavor_id: typing.Optional[str] = None) -> dict:
        _text(instance_uuid, 'instance_uuid')
        _text(project_id, 'project_id')
        _text(tee, 'tee')
        _strings(measurements, 'measurements')
        _text(binding, 'binding', optional=True)
        _object(policy, 'policy')
        _text(flavor_id, 'flavor_id', optional=True)
        _authorize(context, 'nitride:instance:register', project_id)
        return self.engine.register(instance_uuid, project_id, tee,
                                    measurements, binding, policy, flavor_id)

    @messaging.expected_exceptions(*_EXPECTED)
    def remove_instance(self, context: Context, instance_uuid: str) -> bool:
        _text(instance_uuid, 'instance_uuid')
        _authorize(context, 'nitride:instance:remove')
        return self.engine.remove(instance_uuid)

    @messaging.expected_exceptions(*_EXPECTED)
    def get_status(self, context: Context,
                   instance_uuid: str) -> typing.Optional[dict]:
        _text(instance_uuid, 'instance_uuid')
        record = self.engine.status(instance_uuid)
        _authorize(context, 'nitride:instance:status',
                   record['project_id'] if record else None)
        return record

    @messaging.expected_exceptions(*_EXPECTED)
    def get_reference(self, context: Context,
                      instance_uuid: str) -> typing.Optional[dict]:
        _text(instance_uuid, 'instance_uuid')
        record = self.engine.reference(instance_uuid)
        _authorize(context, 'nitride:instance:reference',
                   record['project_id'] if record else None)
        return record

    @messaging.expected_exceptions(*_EXPECTED)
    def verify(self, context: Context, evidence: str,
               tee: typing.Optional[str] = None, certs: list = (),
               collateral: typing.Optional[dict] = None,
               at: typing.Optional[str] = None,
               policy: typing.Optional[dict] = None) -> dict:
        _text(tee, 'tee', optional=True)
        _strings(certs, 'certs')
        _object(collateral, 'collateral')
        _object(policy, 'policy')
        _authorize(context, 'nitride:evidence:verify')
        try:
            when = datetime.datetime.fromisoformat(at) if at else None
        except (TypeError, ValueError):
            raise engine_mod.Refused('at is not an ISO 8601 time',
                                     400) from None
        return self.engine.verify(
            _bytes(evidence, 'evidence'), tee=tee,
            certs=[_bytes(c, 'certificate') for c in certs],
            collateral={name: _bytes(data, name) for name, data in
                        (collateral or {}).items()},
            at=when, policy=policy)

    @messaging.expected_exceptions(*_EXPECTED)
    def authorize_release(self, context: Context, ticket: str,
                          secret_ref: str, project_id: str,
                          release_policy: dict,
                          challenge: typing.Optional[str] = None) -> dict:
        _text(secret_ref, 'secret_ref')
        _text(project_id, 'project_id')
        try:
            # None from callers of RPC 1.0-1.1: a yes must be signed.
            decision.check_challenge(challenge)
        except decision.DecisionError as exc:
            raise engine_mod.Refused(str(exc), 400) from None
        _authorize(context, 'nitride:release:authorize')
        return self.engine.authorize_release(ticket, secret_ref,
                                             project_id, release_policy,
                                             challenge)

    @messaging.expected_exceptions(*_EXPECTED)
    def get_policy(self, context: Context, scope: str,
                   scope_id: str) -> typing.Optional[dict]:
        _text(scope, 'scope')
        _text(scope_id, 'scope_id')
        _authorize(context, 'nitride:policy:get',
                   scope_id if scope == 'project' else None)
        return self.engine.get_policy(scope, scope_id)

    @messaging.expected_exceptions(*_EXPECTED)
    def set_policy(self, context: Context, scope: str, scope_id: str,
                   document: dict) -> dict:
        _text(scope, 'scope')
        _text(scope_id, 'scope_id')
        _object(document, 'document')
        _authorize(context, 'nitride:policy:set')
        return self.engine.set_policy(scope, scope_id, document,
                                      context.user_id)

    @messaging.expected_exceptions(*_EXPECTED)
    def export(self, context: Context,
               instance_uuid: typing.Optional[str] = None,
               project_id: typing.Optional[str] = None) -> dict:
        _text(instance_uuid, 'instance_uuid', optional=True)
        _text(project_id, 'project_id', optional=True)
        owner = project_id
        if owner is None and instance_uuid is not None:
            record = self.engine.status(instance_uuid)
            owner = record and record['project_id']
        _authorize(context, 'nitride:records:export', owner)
        return self.engine.export(instance_uuid, project_id)


_authorize = policy.authorize
