"""The admin dashboard's Confidential Computing panel group."""

from django.utils.translation import gettext_lazy as _

PANEL_GROUP = 'confidential'
PANEL_GROUP_NAME = _('Confidential Computing')
PANEL_GROUP_DASHBOARD = 'admin'
