"""The release relay: Nitride fetches a sealed secret from Barbican.

The guest has no Keystone credentials, so the guest API's
``POST /v1/release`` calls Barbican as Nitride's service user (read access
per secret through a Barbican ACL)::

    GET {barbican}/v1/secrets/{id}/payload
        ?trans_wrapped_session_key={ticket}&transport_key_id={id}
    Accept: application/octet-stream

and hands the answer back unchanged. The Vault plugin inside Barbican
decides with Nitride over RPC and returns the secret HPKE-sealed to the
attested TEE: Nitride never holds the key. When ``[nitride_release]
transport_key_id`` is unset, the id of the Vault's transport key is found
once with ``GET /v1/transport_keys?plugin_name=...``.
"""

import json
import typing
import urllib.error
import urllib.parse
import urllib.request

from oslo_config import cfg

#: Barbican's name of the Vault store (its class path; never changes).
VAULT_PLUGIN = 'buckypaper_os.barbican_plugin.store.VaultStore'
#: Largest sealed blob accepted from Barbican.
MAX_SEALED = 64 * 1024


class RelayError(Exception):
    """Barbican refused or failed; ``status`` for the guest's problem."""

    def __init__(self, status: int, detail: str) -> None:
        self.status = status
        self.detail = detail
        super().__init__(detail)


class Relay:
    """Fetches sealed payloads from Barbican with a guest's ticket."""

    def __init__(self, conf: cfg.ConfigOpts) -> None:
        options = conf.nitride_release
        self.endpoint = (options.barbican_endpoint or '').rstrip('/')
        self.transport_key_id = options.transport_key_id
        self.headers = dict(options.headers)
        self.timeout = options.timeout

    def release(self, secret_id: str, ticket: str) -> bytes:
        """The sealed blob of ``secret_id`` for ``ticket``."""
        if not self.endpoint:
            raise RelayError(503, 'release relay is not configured')
        query = urllib.parse.urlencode({
            'trans_wrapped_session_key': ticket,
            'transport_key_id': self._transport_key_id()})
        return self._get('/v1/secrets/%s/payload?%s' % (secret_id, query),
                         'application/octet-stream', MAX_SEALED)

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
        request = urllib.request.Request(
            self.endpoint + path, method='GET',
            headers=dict(self.headers, Accept=accept))
        try:
            with urllib.request.urlopen(request,
                                        timeout=self.timeout) as answer:
                data = answer.read(limit + 1)
        except urllib.error.HTTPError as exc:
            raise RelayError(_status(exc.code), 'Barbican answered %d: %s'
                             % (exc.code, _description(exc))) from None
        except (urllib.error.URLError, OSError) as exc:
            raise RelayError(503, 'Barbican is unreachable (%s)'
                             % type(exc).__name__) from None
        if len(data) > limit:
            raise RelayError(502, 'Barbican\'s answer is too large')
        return data


def _status(code: int) -> int:
    """The guest-facing status of Barbican's ``code``."""
    return code if code in (400, 403, 404) else 502


def _description(exc: urllib.error.HTTPError) -> str:
    try:
        body = json.loads(exc.read(8192))
        text = body.get('description') or body.get('title') or ''
    except (ValueError, AttributeError, OSError):
        text = ''
    return str(text)[:300] or typing.cast(str, exc.reason)
