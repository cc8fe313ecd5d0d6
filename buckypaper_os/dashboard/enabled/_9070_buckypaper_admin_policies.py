"""The admin dashboard's policies panel."""

PANEL = 'confidential_policies'
PANEL_DASHBOARD = 'admin'
PANEL_GROUP = 'confidential'
ADD_PANEL = 'buckypaper_os.dashboard.admin.policies.panel.Policies'
