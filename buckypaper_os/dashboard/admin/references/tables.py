"""The table of registered instances and their reference values."""

from django.utils.translation import gettext_lazy as _
from horizon import tables


def _measurements(row) -> str:
    return ', '.join(row.measurements) or _('any')


class ReferencesTable(tables.DataTable):
    """One row per registered instance, of every project."""

    instance = tables.Column('instance_uuid', verbose_name=_('Instance'))
    project = tables.Column('project_id', verbose_name=_('Project'))
    tee = tables.Column('tee', verbose_name=_('TEE'))
    flavor = tables.Column('flavor_id', verbose_name=_('Flavor ID'))
    measurements = tables.Column(_measurements,
                                 verbose_name=_('Measurements'),
                                 classes=('word-break',))
    status = tables.Column('status', verbose_name=_('Tier'))

    class Meta:
        name = 'references'
        verbose_name = _('Reference values')
