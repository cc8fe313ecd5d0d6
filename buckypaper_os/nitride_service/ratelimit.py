"""The per-instance rate limits of the guest API: challenges and releases.

An instance may ask for ``[nitride] challenge_burst`` challenges at once
and then ``challenges_per_minute`` on average (generic cell rate
algorithm); likewise ``release_burst`` and ``releases_per_minute`` for
``POST /v1/release``, each of which makes Barbican and a Nitride worker
work while a ticket lives.

The limits live in the database, not in the API process: production runs
several guest API processes (WSGI workers, hosts behind a load balancer),
and a limit kept in each process's memory would admit that many times the
rate, to a guest that spreads its requests. One conditional UPDATE per
request decides (:func:`~buckypaper_os.nitride_service.db.api.
rate_admit`), so the processes sharing the database enforce one limit
together without a read-modify-write race. Each process uses its own
clock: skew between hosts shifts an instance's budget by the skew, never
more than one burst extra.
"""

import math
import time
import typing

from oslo_config import cfg

from buckypaper_os.nitride_service.db import api as db_api
from buckypaper_os.nitride_service.db import models

MICROSECONDS = 1000 * 1000
#: Each limited request: its rate table and its ``[nitride]`` options
#: (per minute, burst).
LIMITS = {
    'challenge': (models.ChallengeRate, 'challenges_per_minute',
                  'challenge_burst'),
    'release': (models.ReleaseRate, 'releases_per_minute', 'release_burst'),
}


def retry_after(conf: cfg.ConfigOpts, kind: str, instance_uuid: str,
                now: typing.Optional[float] = None) -> typing.Optional[int]:
    """Take a ``kind`` request (see :data:`LIMITS`) from an instance's budget.

    Returns 0 when the request is admitted, otherwise the whole seconds
    (at least 1) until the instance may ask again, or ``None`` when the
    instance has no budget: it is not bound. ``now`` is a UNIX time, the
    current one by default.
    """
    model, per_minute, burst = LIMITS[kind]
    now = time.time() if now is None else now
    wait = db_api.rate_admit(
        model, instance_uuid,
        60 * MICROSECONDS // conf.nitride[per_minute],
        conf.nitride[burst], int(now * MICROSECONDS))
    return None if wait is None else math.ceil(wait / MICROSECONDS)
