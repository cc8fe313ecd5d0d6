"""The project dashboard's Confidential Computing panel group."""

from django.utils.translation import gettext_lazy as _

PANEL_GROUP = 'confidential'
PANEL_GROUP_NAME = _('Confidential Computing')
PANEL_GROUP_DASHBOARD = 'project'
# The plugin's Django application (templates), once for all its panels.
ADD_INSTALLED_APPS = ['buckypaper_os.dashboard']
