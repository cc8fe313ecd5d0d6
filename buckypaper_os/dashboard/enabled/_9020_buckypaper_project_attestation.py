"""The project's attestation panel."""

PANEL = 'attestation'
PANEL_DASHBOARD = 'project'
PANEL_GROUP = 'confidential'
ADD_PANEL = ('buckypaper_os.dashboard.project.attestation.panel.'
             'Attestation')
