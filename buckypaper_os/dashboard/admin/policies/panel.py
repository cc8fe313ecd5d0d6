"""Operators: appraisal policies of projects and flavors."""

from django.utils.translation import gettext_lazy as _

from buckypaper_os.dashboard import common


class Policies(common.NitridePanel):
    """Every appraisal policy; admins set them."""

    name = _('Appraisal Policies')
    slug = 'confidential_policies'
    rule = 'nitride:policy:get'
