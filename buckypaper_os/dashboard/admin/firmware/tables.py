"""The table of the measured firmware catalog."""

from django.utils.translation import gettext_lazy as _
from horizon import tables


def _tees(row) -> str:
    return ', '.join(row.tees)


class FirmwareTable(tables.DataTable):
    """One row per catalog entry."""

    name = tables.Column('name', verbose_name=_('Name'))
    tees = tables.Column(_tees, verbose_name=_('TEEs'))
    sha384 = tables.Column('sha384', verbose_name=_('SHA-384'),
                           classes=('word-break',))
    path = tables.Column('path', verbose_name=_('Path'))

    class Meta:
        name = 'firmware'
        verbose_name = _('Firmware catalog')
