"""The authenticated part of Nitride's HTTP API: tenants and operators.

It serves beside the guest API, behind keystonemiddleware's ``auth_token``
(configured in ``[keystone_authtoken]``), and authorizes every call with
the oslo.policy rules of the RPC API (:mod:`..policy`). A tenant sees only
its project's instances: another project's instance is 404, as is an
unknown one. Routes (all JSON)::

    GET /v1/instances[?status=&tee=&flavor_id=&project_id=&all_projects=1]
    GET /v1/instances/{uuid}            reference, binding, newest result
    GET /v1/instances/{uuid}/records    signed records (an export)
    GET /v1/policies[?scope=]           every appraisal policy (admin)
    GET|PUT /v1/policies/{scope}/{id}   one appraisal policy
    GET /v1/firmware                    the measured firmware catalog
"""

import json
import re
import typing

from keystonemiddleware import auth_token
from oslo_config import cfg
from oslo_context import context as context_mod
from oslo_log import log as logging
from oslo_utils import strutils
from oslo_utils import uuidutils
import webob

from buckypaper_os.nitride_service.api import app as app_mod
from buckypaper_os.nitride_service.api import problems
from buckypaper_os.nitride_service.db import api as db_api
from buckypaper_os.nitride_service import engine as engine_mod
from buckypaper_os.nitride_service import policy
from buckypaper_os.nova_driver import firmware

LOG = logging.getLogger(__name__)

#: Path prefixes served by this part of the API.
PREFIXES = ('/v1/instances', '/v1/policies', '/v1/firmware')
#: The attestation states an instance list can be filtered by.
STATES = (engine_mod.AFFIRMING, engine_mod.WARNING,
          engine_mod.CONTRAINDICATED, 'unattested')
#: Largest appraisal policy document accepted by PUT.
MAX_POLICY_BYTES = 64 * 1024

_INSTANCE = re.compile(r'/v1/instances/([^/]+)(/records)?')
_POLICY = re.compile(r'/v1/policies/([a-z]+)/([^/]+)')
_NOT_FOUND = 'no such instance'


def _is_uuid(value: str) -> bool:
    return uuidutils.is_uuid_like(value)


class TenantApp:
    """WSGI application of the authenticated API (behind auth_token)."""

    def __init__(self, engine: engine_mod.Engine,
                 conf: cfg.ConfigOpts) -> None:
        self.engine = engine
        self.conf = conf

    def __call__(self, environ: dict, start_response) -> typing.Iterable:
        request = webob.Request(environ)
        # The raw WSGI path, as in the guest API (webob's path_info decodes
        # it as UTF-8 and raises for other bytes).
        path = environ.get('PATH_INFO', '')
        try:
            response = self._dispatch(request, path)
        except problems.Problem as exc:
            response = exc.response()
        except policy.Forbidden as exc:
            response = problems.Problem(403, str(exc)).response()
        except engine_mod.Refused as exc:
            response = problems.Problem(exc.code, str(exc),
                                        exc.reasons).response()
        except Exception:
            LOG.exception('%s %r: unexpected error', request.method,
                          path[:app_mod.MAX_LOGGED_PATH])
            response = problems.Problem(500, 'internal error').response()
        response.headers['Cache-Control'] = 'no-store'
        return response(environ, start_response)

    def _dispatch(self, request: webob.Request,
                  path: str) -> webob.Response:
        if request.environ.get('HTTP_X_IDENTITY_STATUS') != 'Confirmed':
            raise problems.Problem(401, 'authentication required')
        context = context_mod.RequestContext.from_environ(request.environ)
        method = request.method
        instance = _INSTANCE.fullmatch(path)
        scoped_policy = _POLICY.fullmatch(path)
        if path == '/v1/instances':
            route = {'GET': self.list_instances}
        elif instance:
            route = {'GET': self.records if instance.group(2)
                     else self.show_instance}
        elif path == '/v1/policies':
            route = {'GET': self.list_policies}
        elif scoped_policy:
            route = {'GET': self.show_policy, 'PUT': self.set_policy}
        elif path == '/v1/firmware':
            route = {'GET': self.firmware}
        else:
            raise problems.Problem(404, 'no such resource')
        handler = route.get(method)
        if handler is None:
            raise problems.Problem(
                405, 'method %s not allowed' % method,
                headers={'Allow': ', '.join(sorted(route))})
        match = instance or scoped_policy
        result = handler(context, request, *(match.groups()[:2] if match
                                             else ()))
        if isinstance(result, webob.Response):
            return result
        return webob.Response(json=result)

    # Instances

    def list_instances(self, context, request) -> dict:
        """Instances of a project with their newest attestation."""
        params = request.GET
        if strutils.bool_from_string(params.get('all_projects')):
            project = None
        else:
            project = params.get('project_id') or context.project_id
        policy.authorize(context, 'nitride:instance:status', project)
        state = params.get('status')
        if state is not None and state not in STATES:
            raise problems.Problem(400, 'status must be one of %s'
                                   % ', '.join(STATES))
        latest = {row['instance_uuid']: row for row in
                  db_api.attestation_latest_list(project)}
        instances = []
        for reference in db_api.reference_list(project):
            item = _instance(reference, latest.get(
                reference['instance_uuid']))
            wanted = {'status': state, 'tee': params.get('tee'),
                      'flavor_id': params.get('flavor_id')}
            if all(value is None or item[key] == value
                   for key, value in wanted.items()):
                instances.append(item)
        return {'instances': instances}

    def show_instance(self, context, request, uuid: str, _=None) -> dict:
        """An instance's reference values, binding and newest result."""
        reference = self._owned(context, uuid, 'nitride:instance:status')
        policy.authorize(context, 'nitride:instance:reference',
                         reference['project_id'])
        binding = db_api.binding_get(uuid)
        latest = db_api.attestation_get_latest(uuid)
        item = _instance(reference, latest)
        item.update(policy=reference['policy'],
                    binding=binding and binding['binding'],
                    attestation=latest and _result(latest))
        return item

    def records(self, context, request, uuid: str,
                _=None) -> webob.Response:
        """The instance's signed records, for ``buckypaper-attest``."""
        self._owned(context, uuid, 'nitride:records:export')
        document = self.engine.export(instance_uuid=uuid)
        response = webob.Response(
            body=(json.dumps(document, indent=2, sort_keys=True)
                  + '\n').encode(), content_type='application/json',
            charset=None)
        response.headers['Content-Disposition'] = (
            'attachment; filename="attestation-%s.json"' % uuid)
        return response

    def _owned(self, context, uuid: str, rule: str) -> dict:
        """The reference of an instance ``context`` may see, else 404."""
        reference = db_api.reference_get(uuid) if _is_uuid(uuid) else None
        if reference is None:
            raise problems.Problem(404, _NOT_FOUND)
        try:
            policy.authorize(context, rule, reference['project_id'])
        except policy.Forbidden:
            raise problems.Problem(404, _NOT_FOUND) from None
        return reference

    # Appraisal policies

    def list_policies(self, context, request) -> dict:
        """Every appraisal policy: for operators."""
        scope = request.GET.get('scope')
        _check_scope(scope, optional=True)
        policy.authorize(context, 'nitride:policy:get')
        return {'policies': [engine_mod.exportable(row) for row in
                             db_api.policy_list(scope)]}

    def show_policy(self, context, request, scope: str,
                    scope_id: str) -> dict:
        """One appraisal policy, or 404."""
        _check_scope(scope)
        policy.authorize(context, 'nitride:policy:get',
                         scope_id if scope == 'project' else None)
        document = self.engine.get_policy(scope, scope_id)
        if document is None:
            raise problems.Problem(404, 'no %s policy for %s'
                                   % (scope, scope_id))
        return {'scope': scope, 'scope_id': scope_id, 'document': document}

    def set_policy(self, context, request, scope: str,
                   scope_id: str) -> dict:
        """Store an appraisal policy (admin)."""
        _check_scope(scope)
        policy.authorize(context, 'nitride:policy:set')
        if request.content_length is None or (
                request.content_length > MAX_POLICY_BYTES):
            raise problems.Problem(413, 'a policy document is at most %d '
                                   'bytes' % MAX_POLICY_BYTES)
        try:
            document = json.loads(request.body)
        except (ValueError, RecursionError):
            raise problems.Problem(400, 'request body is not JSON') from None
        if not isinstance(document, dict):
            raise problems.Problem(400, 'a policy is a JSON object')
        stored = self.engine.set_policy(scope, scope_id, document,
                                        context.user_id)
        return {'scope': scope, 'scope_id': scope_id, 'document': stored}

    # Firmware

    def firmware(self, context, request) -> dict:
        """The measured firmware catalog of ``[buckypaper_compute]``."""
        policy.authorize(context, 'nitride:firmware:list')
        path = self.conf.buckypaper_compute.firmware_catalog
        if not path:
            return {'firmware': []}
        try:
            catalog = firmware.Catalog.load(path)
        except firmware.CatalogError as exc:
            raise problems.Problem(503, str(exc)) from None
        return {'firmware': [
            {'name': entry.name, 'path': entry.path,
             'sha384': entry.sha384, 'tees': list(entry.tees)}
            for entry in catalog.entries()]}


def _check_scope(scope: typing.Optional[str], optional=False) -> None:
    if (scope is None and optional) or scope in db_api.POLICY_SCOPES:
        return
    raise problems.Problem(400, 'scope must be one of %s'
                           % ', '.join(db_api.POLICY_SCOPES))


def _result(record: dict) -> dict:
    """An attestation record as shown: no token, no evidence."""
    return engine_mod.exportable({
        key: value for key, value in record.items()
        if key not in ('token', 'evidence')})


def _instance(reference: dict, latest: typing.Optional[dict]) -> dict:
    """One row of the instance list."""
    claims = (latest or {}).get('claims') or {}
    return {'instance_uuid': reference['instance_uuid'],
            'project_id': reference['project_id'],
            'tee': reference['tee'],
            'flavor_id': reference['flavor_id'],
            'measurements': reference['measurements'],
            'status': latest['status'] if latest else 'unattested',
            'reasons': latest['reasons'] if latest else [],
            'simulated': bool(latest and latest['simulated']),
            'measurement': claims.get('measurement') or claims.get('mr_td'),
            'attested_at': latest and engine_mod.json_value(
                latest['created_at'])}


class _Router:
    """Sends :data:`PREFIXES` to the authenticated app, the rest on."""

    def __init__(self, guest_app, tenant_app) -> None:
        self.guest_app = guest_app
        self.tenant_app = tenant_app

    def __call__(self, environ: dict, start_response) -> typing.Iterable:
        path = environ.get('PATH_INFO', '')
        if not any(path == prefix or path.startswith(prefix + '/')
                   for prefix in PREFIXES):
            return self.guest_app(environ, start_response)
        try:
            return self.tenant_app(environ, start_response)
        except Exception as exc:
            # auth_token without a usable [keystone_authtoken]: nothing
            # is shown. The class only: no configuration in the log.
            LOG.error('%s %s: Keystone authentication unavailable (%s); '
                      'check [keystone_authtoken]', environ.get(
                          'REQUEST_METHOD'), path, type(exc).__name__)
            response = problems.Problem(
                503, 'authentication unavailable; retry later').response()
            response.headers['Cache-Control'] = 'no-store'
            return response(environ, start_response)


def mount(guest_app, engine: engine_mod.Engine, conf: cfg.ConfigOpts):
    """``guest_app`` with the authenticated API beside it."""
    protected = auth_token.AuthProtocol(
        TenantApp(engine, conf), {'oslo_config_config': conf})
    return _Router(guest_app, protected)
