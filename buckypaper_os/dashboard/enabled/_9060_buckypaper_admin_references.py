"""The admin dashboard's references panel."""

PANEL = 'confidential_references'
PANEL_DASHBOARD = 'admin'
PANEL_GROUP = 'confidential'
ADD_PANEL = 'buckypaper_os.dashboard.admin.references.panel.References'
