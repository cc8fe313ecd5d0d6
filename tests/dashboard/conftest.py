"""Browser tests run in ``tox -e dashboard`` (Horizon, Keystone, Selenium).

Elsewhere Horizon is not installed and they are not collected.
"""

import importlib.util

if importlib.util.find_spec('openstack_dashboard') is None:
    collect_ignore_glob = ['test_*.py']
else:
    from tests.dashboard import cloud as cloud_mod
    from tests.dashboard.cloud import browser  # noqa: F401
    from tests.dashboard.cloud import cloud  # noqa: F401
    from tests.dashboard.cloud import downloads  # noqa: F401
    from tests.dashboard.cloud import screenshots  # noqa: F401

    def pytest_terminal_summary(terminalreporter) -> None:
        """Say where the screenshots of the pages are."""
        directory = cloud_mod.SCREENSHOTS
        if directory.exists():
            terminalreporter.write_line('screenshots: %s (%d pages)' % (
                directory, len(list(directory.iterdir()))))
