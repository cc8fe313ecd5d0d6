"""The launch hint: which flavors launch confidential guests."""

from django.utils.translation import gettext_lazy as _
import horizon


class ConfidentialFlavors(horizon.Panel):
    """Flavors, the confidential ones marked with their TEE (Nova)."""

    name = _('Confidential Flavors')
    slug = 'confidential_flavors'
    permissions = ('openstack.services.compute',)
