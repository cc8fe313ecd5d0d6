"""The table of appraisal policies."""

import json

from django.utils.translation import gettext_lazy as _
from horizon import tables

from buckypaper_os.dashboard import policy


class SetPolicy(tables.LinkAction):
    """Open the form that stores a project's or flavor's policy."""

    name = 'set'
    verbose_name = _('Set Policy')
    url = 'horizon:admin:confidential_policies:set'
    classes = ('ajax-modal',)
    icon = 'pencil'

    def allowed(self, request, datum=None) -> bool:
        return policy.allowed(request, 'nitride:policy:set')


def _document(row) -> str:
    return json.dumps(row.document, sort_keys=True)


class PoliciesTable(tables.DataTable):
    """One row per policy."""

    scope = tables.Column('scope', verbose_name=_('Scope'))
    scope_id = tables.Column('scope_id', verbose_name=_('Project or flavor'))
    document = tables.Column(_document, verbose_name=_('Policy'))
    updated_at = tables.Column('updated_at', verbose_name=_('Updated'))
    updated_by = tables.Column('updated_by', verbose_name=_('By'))

    class Meta:
        name = 'policies'
        verbose_name = _('Appraisal policies')
        table_actions = (SetPolicy,)

    def get_object_id(self, datum) -> str:
        return '%s/%s' % (datum.scope, datum.scope_id)
