"""Operators: the reference values every instance is registered with."""

from django.utils.translation import gettext_lazy as _

from buckypaper_os.dashboard import common


class References(common.NitridePanel):
    """Registered instances of every project and what they must show."""

    name = _('Reference Values')
    slug = 'confidential_references'
    rule = 'nitride:instance:reference'
