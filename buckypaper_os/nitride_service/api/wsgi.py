"""WSGI entry point of the HTTP API (guest and tenant) for uwsgi, mod_wsgi.

``application`` reads the configuration on its first request: the files
in ``OS_BUCKYPAPER_CONFIG_FILES`` (separated by ``;``, relative to
``OS_BUCKYPAPER_CONFIG_DIR``, default ``/etc/buckypaper``) when set, else
oslo.config's default files of project ``buckypaper`` (such as
``/etc/buckypaper/buckypaper.conf``). It then sets up oslo.log and builds
the engine, once per process.
"""

import os
import threading
import typing

from oslo_log import log as logging

from buckypaper_os import conf as bp_conf
from buckypaper_os.nitride_service.api import app as app_mod
from buckypaper_os.nitride_service.api import problems
from buckypaper_os.nitride_service.api import tenant
from buckypaper_os.nitride_service import engine as engine_mod

CONF = bp_conf.CONF
LOG = logging.getLogger(__name__)

_APP: typing.Optional[typing.Callable] = None
_LOCK = threading.Lock()

logging.register_options(CONF)


def config_files(environ: typing.Mapping[str, str]
                 ) -> typing.Optional[typing.List[str]]:
    """The configuration files named by the environment, or None."""
    names = [name for name in environ.get(
        'OS_BUCKYPAPER_CONFIG_FILES', '').split(';') if name.strip()]
    if not names:
        return None
    directory = environ.get('OS_BUCKYPAPER_CONFIG_DIR', '/etc/buckypaper')
    return [os.path.join(directory, name.strip()) for name in names]


def _load() -> typing.Callable:
    global _APP
    with _LOCK:
        if _APP is None:
            CONF([], project='buckypaper', prog='buckypaper-nitride-api',
                 default_config_files=config_files(os.environ))
            logging.setup(CONF, 'buckypaper-nitride-api')
            engine = engine_mod.Engine(CONF)
            _APP = tenant.mount(app_mod.make_app(engine, CONF), engine,
                                CONF)
        return _APP


def application(environ: dict, start_response) -> typing.Iterable:
    """The guest API, built on the first request."""
    try:
        app = _load()
    except Exception:
        LOG.exception('cannot start the Nitride guest API')
        response = problems.Problem(500, 'internal error').response()
        response.headers['Cache-Control'] = 'no-store'
        return response(environ, start_response)
    return app(environ, start_response)
