"""The per-instance challenge rate limit: GCRA in the shared database."""

import multiprocessing
import uuid

import pytest
import sqlalchemy as sa

from buckypaper_os import conf as bp_conf
from buckypaper_os.nitride_service.db import api as db_api
from buckypaper_os.nitride_service.db import models
from buckypaper_os.nitride_service import engine as engine_mod
from buckypaper_os.nitride_service import ratelimit
from tests.unit.nitride import guests

SECOND = ratelimit.MICROSECONDS
T0 = 1_800_000_000 * SECOND
INSTANCE = str(uuid.uuid4())


@pytest.fixture
def limits(nitride_conf):
    """10 challenges a minute (one per 6 s), bursts of 3."""
    nitride_conf.set_override('challenges_per_minute', 10, 'nitride')
    nitride_conf.set_override('challenge_burst', 3, 'nitride')
    yield nitride_conf
    nitride_conf.clear_override('challenges_per_minute', 'nitride')
    nitride_conf.clear_override('challenge_burst', 'nitride')


def _rows(model, instance) -> int:
    with db_api.get_engine().connect() as connection:
        return connection.scalar(sa.select(sa.func.count()).select_from(
            model).where(model.instance_uuid == instance))


def test_burst_then_the_sustained_rate(nitride_conf):
    admit = db_api.challenge_admit
    assert [admit(INSTANCE, 6 * SECOND, 3, T0) for _ in range(3)] == [0] * 3
    assert admit(INSTANCE, 6 * SECOND, 3, T0) == 6 * SECOND
    assert admit(INSTANCE, 6 * SECOND, 3, T0 + 5 * SECOND) == SECOND
    assert admit(INSTANCE, 6 * SECOND, 3, T0 + 6 * SECOND) == 0
    assert admit(INSTANCE, 6 * SECOND, 3, T0 + 6 * SECOND) == 6 * SECOND
    # Idle for long: the full burst again, not more.
    later = T0 + 3600 * SECOND
    assert [admit(INSTANCE, 6 * SECOND, 3, later) for _ in range(4)] == [
        0, 0, 0, 6 * SECOND]


def test_refusals_do_not_extend_the_wait(nitride_conf):
    for _ in range(50):
        db_api.challenge_admit(INSTANCE, 6 * SECOND, 1, T0)
    assert db_api.challenge_admit(INSTANCE, 6 * SECOND, 1,
                                  T0 + 6 * SECOND) == 0


def test_a_stale_clock_never_waits_more_than_an_interval(nitride_conf):
    """A request whose ``now`` was read before a later one was admitted."""
    assert db_api.challenge_admit(INSTANCE, 6 * SECOND, 1,
                                  T0 + 10 * SECOND) == 0
    assert db_api.challenge_admit(INSTANCE, 6 * SECOND, 1, T0) == 6 * SECOND


def test_instances_have_their_own_budgets(nitride_conf):
    other = str(uuid.uuid4())
    assert db_api.challenge_admit(INSTANCE, SECOND, 1, T0) == 0
    assert db_api.challenge_admit(INSTANCE, SECOND, 1, T0) == SECOND
    assert db_api.challenge_admit(other, SECOND, 1, T0) == 0


def test_retry_after_in_whole_seconds(limits):
    now = T0 / SECOND
    assert [ratelimit.retry_after(limits, INSTANCE, now)
            for _ in range(4)] == [0, 0, 0, 6]
    assert ratelimit.retry_after(limits, INSTANCE, now + 5.5) == 1


def _race(url, instance, barrier, results, attempts):
    bp_conf.CONF([], project='buckypaper', default_config_files=[])
    bp_conf.CONF.set_override('connection', url, group='database')
    barrier.wait(60)
    admitted = sum(db_api.challenge_admit(instance, 60 * SECOND, 5, T0) == 0
                   for _ in range(attempts))
    results.put(admitted)
    db_api.dispose_engine()


def test_processes_sharing_the_database_enforce_one_limit(nitride_conf):
    """Three API processes race from an instance's first challenge on."""
    context = multiprocessing.get_context('spawn')
    barrier = context.Barrier(3)
    results = context.Queue()
    processes = [context.Process(target=_race, args=(
        nitride_conf.database.connection, INSTANCE, barrier, results, 20))
        for _ in range(3)]
    for process in processes:
        process.start()
    for process in processes:
        process.join(120)
    assert [process.exitcode for process in processes] == [0, 0, 0]
    assert sum(results.get(timeout=10) for _ in processes) == 5


def test_flood_is_refused_with_retry_after_and_audited(engine, limits, pki):
    instance = str(uuid.uuid4())
    engine.register(instance, 'project-a', 'sev-snp',
                    [guests.MEASUREMENT.hex()])
    for _ in range(3):
        engine.challenge(instance)
    for _ in range(20):
        with pytest.raises(engine_mod.Refused) as exc:
            engine.challenge(instance)
        assert exc.value.code == 429 and 1 <= exc.value.retry_after <= 6
    events = [e for e in db_api.audit_list(instance)
              if e['event'] == 'challenge']
    assert [e['decision'] for e in events] == ['issued'] * 3 + [
        'refused'] * 20
    assert 'too many challenges' in events[-1]['reasons'][0]
    # The flood issued no nonces beyond the burst.
    assert _rows(models.Nonce, instance) == 3


def test_registration_starts_and_removal_forgets_the_budget(
        engine, limits):
    instance = str(uuid.uuid4())
    engine.register(instance, 'project-a', 'sev-snp',
                    [guests.MEASUREMENT.hex()])
    assert _rows(models.ChallengeRate, instance) == 1  # before any challenge
    engine.challenge(instance)
    assert _rows(models.ChallengeRate, instance) == 1
    engine.remove(instance)
    assert _rows(models.ChallengeRate, instance) == 0
    assert db_api.challenge_rate_delete(instance) is False
