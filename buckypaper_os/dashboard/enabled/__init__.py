"""Horizon ``enabled/`` files of the plugin.

Copy or symlink the ``_9*.py`` files into
``openstack_dashboard/local/enabled/`` (``doc/dashboard.md``).
"""
