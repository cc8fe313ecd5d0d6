"""Operators: the catalog of measured firmware."""

from django.utils.translation import gettext_lazy as _

from buckypaper_os.dashboard import common


class Firmware(common.NitridePanel):
    """Firmware images guests may boot, with their SHA-384."""

    name = _('Firmware Catalog')
    slug = 'confidential_firmware'
    rule = 'nitride:firmware:list'
