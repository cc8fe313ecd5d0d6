"""The project's confidential flavors panel (the launch hint)."""

PANEL = 'confidential_flavors'
PANEL_DASHBOARD = 'project'
PANEL_GROUP = 'confidential'
ADD_PANEL = ('buckypaper_os.dashboard.project.flavors.panel.'
             'ConfidentialFlavors')
