"""The project's attestation panel."""

from django.utils.translation import gettext_lazy as _

from buckypaper_os.dashboard import common


class Attestation(common.NitridePanel):
    """Instances of the project by attestation state, and their details."""

    name = _('Attestation')
    slug = 'attestation'
    rule = 'nitride:instance:status'
    project_scoped = True
