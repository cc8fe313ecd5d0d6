"""What every panel of the plugin shares: access, rows, Nitride's errors."""

import typing

from django import http
from django.utils.translation import gettext_lazy as _
import horizon
from horizon import messages

from buckypaper_os.dashboard import api
from buckypaper_os.dashboard import policy


class Row:
    """A Nitride JSON object as a Horizon table row (``id`` from a key)."""

    def __init__(self, data: dict, id_key: str) -> None:
        self.__dict__.update(data)
        self.id = data[id_key]


def rows(request, fetch: typing.Callable[[], typing.List[dict]],
         id_key: str) -> typing.List[Row]:
    """Table rows from ``fetch``; on a Nitride error, a message and none."""
    try:
        return [Row(item, id_key) for item in fetch()]
    except api.TenantApiError as exc:
        messages.error(request, _('Nitride refused: %s') % exc.detail)
        return []


def fetch_one(fetch: typing.Callable[[], typing.Any]):
    """``fetch()``; a Nitride 404 (or 403) becomes the page's 404."""
    try:
        return fetch()
    except api.TenantApiError as exc:
        if exc.status in (403, 404):
            raise http.Http404(exc.detail) from None
        raise


def tier_class(status: str) -> str:
    """The Bootstrap label class of an attestation tier."""
    return {'affirming': 'label-success', 'warning': 'label-warning',
            'contraindicated': 'label-danger'}.get(status, 'label-default')


class NitridePanel(horizon.Panel):
    """A panel shown to users whom Nitride's ``rule`` allows.

    ``project_scoped`` panels check the rule on the user's project (the
    owner rules); the others on no project, so only roles (admin) pass.
    """

    rule: str = ''
    project_scoped = False

    def allowed(self, context) -> bool:
        request = context['request']
        return policy.allowed(request, self.rule,
                              request.user.project_id
                              if self.project_scoped else None)
