"""The table of the project's instances by attestation state."""

from django.utils.translation import gettext_lazy as _
from horizon import tables


class AttestationFilter(tables.FilterAction):
    """Filters sent to Nitride (``GET /v1/instances``)."""

    filter_type = 'server'
    filter_choices = (
        ('status', _('Tier ='), True,
         _('affirming, warning, contraindicated or unattested')),
        ('tee', _('TEE ='), True, _('sev-snp or tdx')),
        ('flavor_id', _('Flavor ID ='), True))


def _reasons(row) -> str:
    return '; '.join(row.reasons)


class InstancesTable(tables.DataTable):
    """One row per instance registered with Nitride."""

    instance = tables.Column('instance_uuid', verbose_name=_('Instance'),
                             link='horizon:project:attestation:detail')
    tee = tables.Column('tee', verbose_name=_('TEE'))
    flavor = tables.Column('flavor_id', verbose_name=_('Flavor ID'))
    status = tables.Column('status', verbose_name=_('Tier'))
    reasons = tables.Column(_reasons, verbose_name=_('Reasons'),
                            classes=('word-break',))
    attested_at = tables.Column('attested_at',
                                verbose_name=_('Last attestation'))

    class Meta:
        name = 'attestations'
        verbose_name = _('Attestation of instances')
        table_actions = (AttestationFilter,)
