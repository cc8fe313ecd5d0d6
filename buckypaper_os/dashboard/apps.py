"""The plugin as a Django application (its templates)."""

from django import apps


class BuckypaperDashboardConfig(apps.AppConfig):
    """Named ``buckypaper_dashboard``: Horizon has a ``dashboard``."""

    name = 'buckypaper_os.dashboard'
    label = 'buckypaper_dashboard'
    verbose_name = 'buckypaper-os'
