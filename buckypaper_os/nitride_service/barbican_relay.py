"""The release relay: Nitride fetches a sealed secret from Barbican.

The guest has no Keystone credentials, so the guest API's
``POST /v1/release`` calls Barbican as Nitride's service user (read access
per secret through a Barbican ACL)::

    GET {barbican}/v1/secrets/{id}/payload
        ?trans_wrapped_session_key={ticket}&transport_key_id={id}
    Accept: */*

and hands the answer back unchanged. The Vault plugin inside Barbican
decides with Nitride over RPC and returns the secret HPKE-sealed to the
attested TEE: Nitride never holds the key. ``*/*`` asks for the secret's
own content type, which the Vault keeps binary for every bound secret; it
also spares Barbican matching the header against the thousand-odd
content types its payload route allows (4-5 ms of its CPU a request).
When ``[nitride_release] transport_key_id`` is unset, the id of the
Vault's transport key is found once with
``GET /v1/transport_keys?plugin_name=...``.

The calls go through a keystoneauth1 session loaded from
``[nitride_release]`` the standard way (``auth_type``, ``auth_url``,
``username``, ... and the session's TLS and ``timeout`` options), to
``barbican_endpoint`` or else the ``key-manager`` endpoint of the service
catalog. Tests and demos against a Barbican without keystonemiddleware
use ``auth_type = none`` and ``test_identity_headers``.
"""

import json
import typing
import urllib.parse

from keystoneauth1 import exceptions as ks_exc
from keystoneauth1 import loading as ks_loading
from oslo_config import cfg
from oslo_log import log as logging
from urllib3 import exceptions as urllib3_exc

from buckypaper_os.barbican_plugin import sealing
from buckypaper_os.conf import vault as vault_conf

LOG = logging.getLogger(__name__)

#: Barbican's name of the Vault store (its class path; never changes).
VAULT_PLUGIN = 'buckypaper_os.barbican_plugin.store.VaultStore'
#: The Accept header of a release (see above).
SEALED_ACCEPT = '*/*'
#: Largest sealed blob accepted from Barbican.
MAX_SEALED = 64 * 1024
#: Seconds to wait for Barbican when the session's ``timeout`` is unset.
DEFAULT_TIMEOUT = 15
#: Where Barbican is in the service catalog without barbican_endpoint.
CATALOG_FILTER = {'service_type': 'key-manager', 'interface': 'internal'}


class RelayError(Exception):
    """Barbican refused or failed; ``status`` for the guest's problem."""

    def __init__(self, status: int, detail: str) -> None:
        self.status = status
        self.detail = detail
        super().__init__(detail)


def load_session(conf: cfg.ConfigOpts):
    """The keystoneauth1 session of ``[nitride_release]``, or None.

    None when no ``auth_type`` is configured: the relay then has no
    credentials and refuses to call Barbican.
    """
    group = vault_conf.RELEASE_GROUP.name
    auth = ks_loading.load_auth_from_conf_options(conf, group)
    if auth is None:
        return None
    return ks_loading.load_session_from_conf_options(
        conf, group, auth=auth,
        timeout=conf[group].timeout or DEFAULT_TIMEOUT)


class Relay:
    """Fetches sealed payloads from Barbican with a guest's ticket."""

    def __init__(self, conf: cfg.ConfigOpts) -> None:
        options = conf.nitride_release
        self.session = load_session(conf)
        self.endpoint = (options.barbican_endpoint or '').rstrip('/')
        self.transport_key_id = options.transport_key_id
        self.headers = dict(options.test_identity_headers)
        if self.headers:
            LOG.warning('[nitride_release] test_identity_headers is set: '
                        'Barbican is called with fixed identity headers. '
                        'For tests and demos only, never in production.')

    def release(self, secret_id: str, ticket: str) -> bytes:
        """The sealed blob of ``secret_id`` for ``ticket``."""
        if self.session is None:
            raise RelayError(503, 'release relay is not configured '
                             '([nitride_release] auth_type)')
        query = urllib.parse.urlencode({
            'trans_wrapped_session_key': ticket,
            'transport_key_id': self._transport_key_id()})
        sealed = self._get('/v1/secrets/%s/payload?%s' % (secret_id, query),
                           SEALED_ACCEPT, MAX_SEALED)
        if not sealing.is_sealed(sealed):
            # Only sealed blobs are passed on; the bytes are never logged.
            LOG.warning('Barbican answered the release of %s with %d bytes '
                        'that are not a sealed blob: nothing passed on',
                        secret_id, len(sealed))
            raise RelayError(502, 'Barbican\'s answer is not a sealed blob')
        return sealed

    def _transport_key_id(self) -> str:
        if not self.transport_key_id:
            query = urllib.parse.urlencode({'plugin_name': VAULT_PLUGIN})
            try:
                listing = json.loads(self._get(
                    '/v1/transport_keys?' + query, 'application/json',
                    1 << 20))
                refs = [key if isinstance(key, str) else
                        key['transport_key_ref']
                        for key in listing.get('transport_keys') or []]
            except (ValueError, TypeError, KeyError, AttributeError):
                raise RelayError(502, 'Barbican listed transport keys in '
                                 'an unknown form') from None
            if not refs:
                raise RelayError(503, 'Barbican has no transport key of the '
                                 'Vault')
            self.transport_key_id = refs[0].rstrip('/').rsplit('/', 1)[-1]
        return self.transport_key_id

    def _get(self, path: str, accept: str, limit: int) -> bytes:
        """The body of a GET of ``path``, at most ``limit`` bytes.

        Not logged by keystoneauth: the query string carries the ticket.
        """
        where = ({'endpoint_override': self.endpoint} if self.endpoint
                 else {'endpoint_filter': CATALOG_FILTER})
        try:
            answer = self.session.get(
                path, headers=dict(self.headers, Accept=accept),
                raise_exc=False, log=False, stream=True, **where)
        except ks_exc.EndpointNotFound:
            raise RelayError(503, 'Barbican is not in the service catalog; '
                             'set [nitride_release] barbican_endpoint'
                             ) from None
        except ks_exc.ClientException as exc:
            raise RelayError(503, 'Barbican is unreachable (%s)'
                             % type(exc).__name__) from None
        with answer:
            try:
                data = answer.raw.read(limit + 1, decode_content=True)
            except (OSError, urllib3_exc.HTTPError) as exc:
                raise RelayError(502, 'Barbican\'s answer was cut (%s)'
                                 % type(exc).__name__) from None
        if answer.status_code != 200:
            raise RelayError(_status(answer.status_code),
                             'Barbican answered %d: %s' % (
                                 answer.status_code,
                                 _description(data, answer.reason)))
        if len(data) > limit:
            raise RelayError(502, 'Barbican\'s answer is too large')
        return data


def _status(code: int) -> int:
    """The guest-facing status of Barbican's ``code``."""
    return code if code in (400, 403, 404, 503) else 502


def _description(body: bytes, reason: typing.Optional[str]) -> str:
    try:
        answer = json.loads(body)
        text = answer.get('description') or answer.get('title') or ''
    except (ValueError, AttributeError):
        text = ''
    return str(text)[:300] or str(reason or '')
