"""The per-instance challenge rate limit of the guest API.

A guest may ask for ``[nitride] challenge_burst`` challenges at once and
then ``challenges_per_minute`` on average (generic cell rate algorithm).

The limit lives in the database, not in the API process: production runs
several guest API processes (WSGI workers, hosts behind a load balancer),
and a limit kept in each process's memory would admit that many times the
rate, to a guest that spreads its requests. One conditional UPDATE per
challenge decides (:func:`~buckypaper_os.nitride_service.db.api.
challenge_admit`), so the processes sharing the database enforce one
limit together without a read-modify-write race. Each process uses its
own clock: skew between hosts shifts an instance's budget by the skew,
never more than ``challenge_burst`` extra challenges.
"""

import math
import time
import typing

from oslo_config import cfg

from buckypaper_os.nitride_service.db import api as db_api

MICROSECONDS = 1000 * 1000


def retry_after(conf: cfg.ConfigOpts, instance_uuid: str,
                now: typing.Optional[float] = None) -> int:
    """Take a challenge from an instance's budget.

    Returns 0 when the challenge is admitted, otherwise the whole seconds
    (at least 1) until the instance may ask again. ``now`` is a UNIX
    time, the current one by default.
    """
    now = time.time() if now is None else now
    wait = db_api.challenge_admit(
        instance_uuid, 60 * MICROSECONDS // conf.nitride.challenges_per_minute,
        conf.nitride.challenge_burst, int(now * MICROSECONDS))
    return math.ceil(wait / MICROSECONDS)
