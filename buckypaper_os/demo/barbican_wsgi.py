"""Barbican's API app for uWSGI (demo, tests, bench).

``uwsgi --module buckypaper_os.demo.barbican_wsgi:application --lazy-apps``
with ``BUCKYPAPER_BARBICAN_PASTE`` naming the paste file and ``HOME``
holding ``.barbican/barbican.conf``. Barbican syncs its secret-store table
as it builds its app; on SQLite, workers doing so at once fail with
"database is locked", so each builds it holding a lock on the paste file.
"""

import fcntl
import os

from paste import deploy


def _load():
    path = os.environ['BUCKYPAPER_BARBICAN_PASTE']
    with open(path) as f:
        fcntl.flock(f, fcntl.LOCK_EX)  # released when closed
        return deploy.loadapp('config:%s' % path, name='main')


application = _load()
