"""The admin dashboard's firmware panel."""

PANEL = 'confidential_firmware'
PANEL_DASHBOARD = 'admin'
PANEL_GROUP = 'confidential'
ADD_PANEL = 'buckypaper_os.dashboard.admin.firmware.panel.Firmware'
