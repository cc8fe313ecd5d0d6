"""A client of Nitride's authenticated tenant and operator API.

It sends a Keystone token through a keystoneauth session: the dashboard
passes the Horizon user's token, so Nitride decides on that user's roles
and project, never on the dashboard's. Errors come back as
:class:`TenantApiError` with the RFC 7807 problem.
"""

import typing
import urllib.parse

from keystoneauth1 import exceptions as ks_exc
from keystoneauth1 import session as ks_session
from keystoneauth1 import token_endpoint

#: The service type of Nitride in the Keystone catalog.
SERVICE_TYPE = 'attestation'


class TenantApiError(Exception):
    """A problem answer (4xx/5xx) or no answer from Nitride."""

    def __init__(self, status: int, detail: str,
                 reasons: typing.Sequence[str] = ()) -> None:
        self.status = status
        self.detail = detail
        self.reasons = list(reasons)
        super().__init__('%s: %s' % (status, detail))


class TenantClient:
    """Nitride at ``endpoint`` on behalf of the holder of ``token``.

    ``verify`` is keystoneauth's: a CA bundle path, or a boolean.
    """

    def __init__(self, endpoint: str, token: str,
                 verify: typing.Union[bool, str] = True,
                 timeout: float = 30) -> None:
        self.endpoint = endpoint.rstrip('/')
        self.session = ks_session.Session(
            auth=token_endpoint.Token(self.endpoint, token), verify=verify,
            timeout=timeout)

    def instances(self, **filters: typing.Optional[str]) -> typing.List[dict]:
        """Instances with their newest attestation.

        Filters: ``status``, ``tee``, ``flavor_id``, ``project_id``,
        ``all_projects`` (``'1'``); ``None`` values are left out.
        """
        query = {k: v for k, v in filters.items() if v is not None}
        return self._get('/v1/instances', query).json()['instances']

    def instance(self, instance_uuid: str) -> dict:
        """Reference values, binding and newest attestation of one."""
        return self._get('/v1/instances/%s' % _quote(instance_uuid)).json()

    def records(self, instance_uuid: str) -> bytes:
        """The signed records export (JSON), for ``buckypaper-attest``."""
        return self._get('/v1/instances/%s/records'
                         % _quote(instance_uuid)).content

    def policies(self, scope: typing.Optional[str] = None
                 ) -> typing.List[dict]:
        """Every appraisal policy (operators)."""
        query = {'scope': scope} if scope else {}
        return self._get('/v1/policies', query).json()['policies']

    def policy(self, scope: str, scope_id: str) -> dict:
        """One appraisal policy: ``{"scope", "scope_id", "document"}``."""
        return self._get('/v1/policies/%s/%s' % (
            _quote(scope), _quote(scope_id))).json()

    def set_policy(self, scope: str, scope_id: str, document: dict) -> dict:
        """Store an appraisal policy (operators)."""
        return self._request('PUT', '/v1/policies/%s/%s' % (
            _quote(scope), _quote(scope_id)), json=document).json()

    def firmware(self) -> typing.List[dict]:
        """The measured firmware catalog (operators)."""
        return self._get('/v1/firmware').json()['firmware']

    def _get(self, path: str, query: typing.Optional[dict] = None):
        return self._request('GET', path, params=query or None)

    def _request(self, method: str, path: str, **kwargs):
        try:
            return self.session.request(self.endpoint + path, method,
                                        **kwargs)
        except ks_exc.HttpError as exc:
            problem = _problem(exc.response)
            raise TenantApiError(exc.http_status, problem.get(
                'detail') or exc.message, problem.get('reasons') or ()
            ) from None
        except ks_exc.ClientException as exc:
            raise TenantApiError(503, 'Nitride cannot be reached: %s'
                                 % type(exc).__name__) from None


def _quote(value: str) -> str:
    return urllib.parse.quote(value, safe='')


def _problem(response) -> dict:
    try:
        document = response.json()
    except (AttributeError, ValueError):
        return {}
    return document if isinstance(document, dict) else {}
