"""Heat's resource registry with buckypaper-os's Heat plugin loaded.

Heat finds third-party resources only in its ``plugin_dirs``; the
registry is global and built once, so every test of tests/heat shares it.
"""

import pytest

from buckypaper_os import heat_plugin


@pytest.fixture(scope='session')
def env():
    resources = pytest.importorskip('heat.engine.resources')
    from heat.common import config  # noqa: F401 (registers plugin_dirs)
    from heat.engine import environment
    from oslo_config import cfg
    cfg.CONF([], project='heat', default_config_files=[])
    cfg.CONF.set_override('plugin_dirs', list(heat_plugin.__path__))
    resources.initialise()
    return environment.Environment({})
