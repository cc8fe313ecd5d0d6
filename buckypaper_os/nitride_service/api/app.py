"""The guest API's WSGI application: routes, request limits, problems.

A thin layer over :class:`~buckypaper_os.nitride_service.engine.Engine`:
it checks the shape and size of each request before anything is read or
decoded, calls the engine, and turns every failure into an RFC 7807
problem. Request bodies are never logged.
"""

import json
import re
import typing

from oslo_config import cfg
from oslo_db import exception as db_exc
from oslo_log import log as logging
from oslo_utils import uuidutils
from sqlalchemy import exc as sa_exc
import webob

from buckypaper_os import attestation
from buckypaper_os.attestation import collateral_dir
from buckypaper_os.nitride_service.api import problems
from buckypaper_os.nitride_service import audit
from buckypaper_os.nitride_service import barbican_relay
from buckypaper_os.nitride_service.db import api as db_api
from buckypaper_os.nitride_service import engine as engine_mod
from buckypaper_os.nitride_service import receipt
from buckypaper_os.nitride_service import token

LOG = logging.getLogger(__name__)

JSON = 'application/json'
#: Most collateral files one request may carry, and their longest name.
MAX_COLLATERAL_FILES = 16
MAX_COLLATERAL_NAME = 256
#: A Content-Length with more digits is too large without parsing it.
MAX_LENGTH_DIGITS = 18
#: Longest part of a request path that is logged.
MAX_LOGGED_PATH = 200
#: Longest attestation ticket (a token signed with ES384 and ML-DSA-65).
MAX_TICKET = 32 * 1024
#: Errors that mean the database cannot be used right now.
DB_UNAVAILABLE = (db_exc.DBError, sa_exc.OperationalError,
                  sa_exc.TimeoutError)
VERSIONS = {'name': 'buckypaper-nitride-api',
            'versions': [{'id': 'v1', 'status': 'CURRENT'}]}

Handler = typing.Callable[[webob.Request], typing.Any]


class NitrideApp:
    """WSGI application of the guest API."""

    def __init__(self, engine: engine_mod.Engine,
                 conf: cfg.ConfigOpts) -> None:
        self.engine = engine
        self.max_request_bytes = conf.nitride_api.max_request_bytes
        self.relay = barbican_relay.Relay(conf)
        self.routes: typing.Dict[str, typing.Dict[str, Handler]] = {
            '/': {'GET': lambda request: VERSIONS},
            '/v1/challenge': {'POST': self.challenge},
            '/v1/attest': {'POST': self.attest},
            '/v1/jwks': {'GET': lambda request: engine.keys.jwks},
            '/v1/release': {'POST': self.release},
        }

    def __call__(self, environ: dict, start_response) -> typing.Iterable:
        request = webob.Request(environ)
        # The raw WSGI path: webob's path_info decodes it as UTF-8 and
        # raises for other bytes. Logged quoted and cut short.
        path = environ.get('PATH_INFO', '')
        try:
            response = webob.Response(json=self._dispatch(request, path))
        except problems.Problem as exc:
            response = exc.response()
        except engine_mod.Refused as exc:
            headers = ({'Retry-After': str(exc.retry_after)}
                       if exc.retry_after else None)
            response = problems.Problem(exc.code, '; '.join(exc.reasons),
                                        exc.reasons, headers).response()
        except DB_UNAVAILABLE as exc:
            # The class only: a driver message may quote SQL parameters.
            LOG.error('%s %r: database unavailable (%s)', request.method,
                      path[:MAX_LOGGED_PATH], type(exc).__name__)
            response = problems.Problem(
                503, 'service unavailable; retry later').response()
        except Exception:
            LOG.exception('%s %r: unexpected error', request.method,
                          path[:MAX_LOGGED_PATH])
            response = problems.Problem(500,
                                        'internal error').response()
        response.headers['Cache-Control'] = 'no-store'
        return response(environ, start_response)

    def _dispatch(self, request: webob.Request, path: str):
        methods = self.routes.get(path)
        if methods is None:
            raise problems.Problem(404, 'no such resource')
        handler = methods.get(request.method)
        if handler is None:
            raise problems.Problem(
                405, 'method %s not allowed' % request.method,
                headers={'Allow': ', '.join(sorted(methods))})
        return handler(request)

    # Routes

    def challenge(self, request: webob.Request) -> dict:
        """``POST /v1/challenge``: a fresh nonce for an instance."""
        body = self._json_body(request)
        return self.engine.challenge(_instance(body))

    def attest(self, request: webob.Request) -> dict:
        """``POST /v1/attest``: evidence for a nonce; a signed token."""
        body = self._json_body(request)
        instance = _instance(body)
        nonce = _b64(body, 'nonce', engine_mod.NONCE_SIZE)
        evidence = _b64(body, 'evidence', attestation.MAX_EVIDENCE_SIZE)
        certs = _certificates(body.get('certificates', []))
        public_key = _b64(body, 'tee_public_key', engine_mod.MAX_PUBLIC_KEY)
        collateral = _collateral(body.get('collateral'))
        return self.engine.attest(instance, nonce, evidence, certs,
                                  public_key, collateral)

    def release(self, request: webob.Request) -> dict:
        """``POST /v1/release``: the secret sealed to the attested TEE.

        Relays to Barbican as Nitride's service user (see
        :mod:`~buckypaper_os.nitride_service.barbican_relay`) and returns
        the sealed blob unchanged. The ticket is checked here first only
        to spare Barbican hopeless requests, and its instance's release
        rate limit (:mod:`~buckypaper_os.nitride_service.ratelimit`) to
        spare Barbican floods; the Vault decides.
        """
        body = self._json_body(request)
        secret = body.get('secret')
        if not isinstance(secret, str) or not uuidutils.is_uuid_like(
                secret):
            raise _invalid('secret must be a Barbican secret UUID')
        ticket = body.get('ticket')
        if not isinstance(ticket, str) or not 0 < len(ticket) <= MAX_TICKET:
            raise _invalid('ticket must be the token of an attestation')
        try:
            claims = self.engine.verify_ticket(ticket)
            instance, jti = claims[token.INSTANCE], claims['jti']
        except (token.TokenError, KeyError) as exc:
            # A decision like the Vault's: audited, with its reason.
            reason = 'ticket refused: %s' % (
                exc if isinstance(exc, token.TokenError) else 'no instance')
            self.engine.auditor.record('release', audit.REFUSED, [reason],
                                       secret_ref=secret.lower())
            raise problems.Problem(403, 'ticket refused', [reason]) from None
        secret = secret.lower()
        self.engine.admit_release(instance, claims.get(token.PROJECT),
                                  secret)
        mark = db_api.audit_last_id()
        try:
            sealed = self.relay.release(secret, ticket)
        except barbican_relay.RelayError as exc:
            LOG.info('release of %s to %s refused: %s', secret, instance,
                     exc.detail)
            raise problems.Problem(exc.status, exc.detail) from None
        if not db_api.release_allowed(mark, instance, secret):
            # Another store answered (its plaintext, or a blob someone
            # put there), not the Vault after Nitride's decision: nothing
            # is relayed, and no receipt vouches for it.
            reason = 'Barbican answered without the Vault\'s release decision'
            self.engine.auditor.record('release', audit.REFUSED, [reason],
                                       instance_uuid=instance,
                                       secret_ref=secret)
            LOG.warning('release of %s to %s: %s; nothing relayed', secret,
                        instance, reason)
            raise problems.Problem(502, reason)
        return {'secret': secret, 'instance': instance,
                'sealed': engine_mod.b64encode(sealed),
                'receipt': receipt.issue(self.engine.signer, instance,
                                         secret, jti, sealed)}

    # Request parsing

    def _json_body(self, request: webob.Request) -> dict:
        """The request's JSON object, its size checked before reading."""
        if request.content_type.lower() != JSON:
            raise problems.Problem(415, 'Content-Type must be %s' % JSON)
        length = request.environ.get('CONTENT_LENGTH') or ''
        if not length:
            raise problems.Problem(411, 'Content-Length is required')
        if not re.fullmatch('[0-9]+', length):
            raise problems.Problem(400, 'Content-Length is not a number')
        size = int(length) if len(length) <= MAX_LENGTH_DIGITS else None
        if size is None or size > self.max_request_bytes:
            raise problems.Problem(413, 'request body is larger than %d '
                                   'bytes' % self.max_request_bytes)
        data = request.environ['wsgi.input'].read(size)
        if len(data) != size:
            raise problems.Problem(400, 'request body is shorter than its '
                                   'Content-Length')
        try:
            body = json.loads(data)
        except (ValueError, RecursionError):
            raise problems.Problem(400, 'request body is not JSON') from None
        if not isinstance(body, dict):
            raise problems.Problem(400, 'request body is not a JSON object')
        return body


def _invalid(detail: str) -> problems.Problem:
    return problems.Problem(400, detail, [detail])


def _instance(body: dict) -> str:
    instance = body.get('instance')
    if not isinstance(instance, str) or not uuidutils.is_uuid_like(
            instance):
        raise _invalid('instance must be an instance UUID')
    return instance


def _decode(text, what: str, max_size: int) -> bytes:
    data = engine_mod.b64decode(text, what, max_size)
    if len(data) > max_size:
        raise _invalid('%s must be base64 of at most %d bytes'
                       % (what, max_size))
    return data


def _b64(body: dict, field: str, max_size: int) -> bytes:
    if field not in body:
        raise _invalid('%s is required' % field)
    return _decode(body[field], field, max_size)


def _certificates(certs) -> typing.List[bytes]:
    if not isinstance(certs, list):
        raise _invalid('certificates must be a list of base64 strings')
    if len(certs) > attestation.MAX_CERTS:
        raise _invalid('certificates: at most %d are accepted'
                       % attestation.MAX_CERTS)
    return [_decode(cert, 'certificates[%d]' % index,
                    attestation.MAX_EVIDENCE_SIZE)
            for index, cert in enumerate(certs)]


def _collateral(files) -> typing.Optional[typing.Dict[str, bytes]]:
    if files is None:
        return None
    if not isinstance(files, dict) or len(files) > MAX_COLLATERAL_FILES:
        raise _invalid('collateral must be an object of at most %d file '
                       'names to base64 strings' % MAX_COLLATERAL_FILES)
    if any(len(name) > MAX_COLLATERAL_NAME for name in files):
        raise _invalid('collateral file names are at most %d characters'
                       % MAX_COLLATERAL_NAME)
    # Files are named by position: the names are the client's text.
    return {name: _decode(data, 'collateral file %d' % index,
                          collateral_dir.MAX_FILE_SIZE)
            for index, (name, data) in enumerate(files.items())}


def make_app(engine: engine_mod.Engine,
             conf: cfg.ConfigOpts) -> NitrideApp:
    """The guest API over ``engine``, limited by ``[nitride_api]``."""
    return NitrideApp(engine, conf)
