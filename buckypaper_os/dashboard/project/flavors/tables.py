"""The table of flavors with their confidential-computing hint."""

from django.utils.translation import gettext_lazy as _
from horizon import tables


class FlavorsTable(tables.DataTable):
    """One row per flavor the project may use, confidential ones first."""

    name = tables.Column('name', verbose_name=_('Flavor'))
    vcpus = tables.Column('vcpus', verbose_name=_('VCPUs'))
    ram = tables.Column('ram', verbose_name=_('RAM (MiB)'))
    tee = tables.Column('tee', verbose_name=_('TEE'),
                        empty_value=_('not confidential'))
    attestation = tables.Column('attestation', verbose_name=_('Attestation'),
                                empty_value='-')
    firmware = tables.Column('firmware', verbose_name=_('Firmware'),
                             empty_value=_('default'))
    disk_key = tables.Column('disk_key', verbose_name=_('Sealed disk key'))

    class Meta:
        name = 'flavors'
        verbose_name = _('Confidential flavors')
