"""The per-instance rate limits: GCRA in the shared database."""

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
    """Challenges: 10 a minute (one per 6 s), bursts of 3.

    Releases: 2 a minute, bursts of 2.
    """
    options = {'challenges_per_minute': 10, 'challenge_burst': 3,
               'releases_per_minute': 2, 'release_burst': 2}
    for name, value in options.items():
        nitride_conf.set_override(name, value, 'nitride')
    yield nitride_conf
    for name in options:
        nitride_conf.clear_override(name, 'nitride')


@pytest.fixture
def bound(nitride_conf):
    """Binds INSTANCE (its budgets start full) and returns a binder."""
    def bind(instance):
        db_api.binding_create(instance, 'project-a', 'sev-snp', '00' * 32)
        return instance
    bind(INSTANCE)
    return bind


def _rows(model, instance) -> int:
    with db_api.get_engine().connect() as connection:
        return connection.scalar(sa.select(sa.func.count()).select_from(
            model).where(model.instance_uuid == instance))


def _admit(model):
    return lambda *args: db_api.rate_admit(model, *args)


@pytest.mark.parametrize('model', db_api.RATES)
def test_burst_then_the_sustained_rate(bound, model):
    admit = _admit(model)
    assert [admit(INSTANCE, 6 * SECOND, 3, T0) for _ in range(3)] == [0] * 3
    assert admit(INSTANCE, 6 * SECOND, 3, T0) == 6 * SECOND
    assert admit(INSTANCE, 6 * SECOND, 3, T0 + 5 * SECOND) == SECOND
    assert admit(INSTANCE, 6 * SECOND, 3, T0 + 6 * SECOND) == 0
    assert admit(INSTANCE, 6 * SECOND, 3, T0 + 6 * SECOND) == 6 * SECOND
    # Idle for long: the full burst again, not more.
    later = T0 + 3600 * SECOND
    assert [admit(INSTANCE, 6 * SECOND, 3, later) for _ in range(4)] == [
        0, 0, 0, 6 * SECOND]


def test_refusals_do_not_extend_the_wait(bound):
    admit = _admit(models.ChallengeRate)
    for _ in range(50):
        admit(INSTANCE, 6 * SECOND, 1, T0)
    assert admit(INSTANCE, 6 * SECOND, 1, T0 + 6 * SECOND) == 0


def test_a_stale_clock_never_waits_more_than_an_interval(bound):
    """A request whose ``now`` was read before a later one was admitted."""
    admit = _admit(models.ChallengeRate)
    assert admit(INSTANCE, 6 * SECOND, 1, T0 + 10 * SECOND) == 0
    assert admit(INSTANCE, 6 * SECOND, 1, T0) == 6 * SECOND


def test_instances_and_kinds_have_their_own_budgets(bound):
    other = bound(str(uuid.uuid4()))
    challenge, release = (_admit(model) for model in db_api.RATES)
    assert challenge(INSTANCE, SECOND, 1, T0) == 0
    assert challenge(INSTANCE, SECOND, 1, T0) == SECOND
    assert challenge(other, SECOND, 1, T0) == 0
    assert release(INSTANCE, SECOND, 1, T0) == 0
    assert release(INSTANCE, SECOND, 1, T0) == SECOND


def test_retry_after_in_whole_seconds(limits, bound):
    now = T0 / SECOND
    assert [ratelimit.retry_after(limits, 'challenge', INSTANCE, now)
            for _ in range(4)] == [0, 0, 0, 6]
    assert ratelimit.retry_after(limits, 'challenge', INSTANCE,
                                 now + 5.5) == 1
    # Releases: 2 a minute (one per 30 s), bursts of 2.
    assert [ratelimit.retry_after(limits, 'release', INSTANCE, now)
            for _ in range(3)] == [0, 0, 30]


def _race(url, instance, barrier, results, attempts):
    bp_conf.CONF([], project='buckypaper', default_config_files=[])
    bp_conf.CONF.set_override('connection', url, group='database')
    barrier.wait(60)
    admitted = sum(db_api.rate_admit(models.ChallengeRate, instance,
                                     60 * SECOND, 5, T0) == 0
                   for _ in range(attempts))
    results.put(admitted)
    db_api.dispose_engine()


def test_processes_sharing_the_database_enforce_one_limit(bound,
                                                          nitride_conf):
    """Three API processes race for one instance's full budget."""
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


def test_registration_starts_and_removal_forgets_the_budgets(
        engine, limits):
    instance, secret = str(uuid.uuid4()), str(uuid.uuid4())
    engine.register(instance, 'project-a', 'sev-snp',
                    [guests.MEASUREMENT.hex()])
    for model in db_api.RATES:  # before any request
        assert _rows(model, instance) == 1
    engine.challenge(instance)
    engine.admit_release(instance, 'project-a', secret)
    engine.remove(instance)
    for model in db_api.RATES:
        assert _rows(model, instance) == 0
    assert db_api.rates_delete(instance) is False
    # A ticket that outlives its instance gets no fresh budget.
    with pytest.raises(engine_mod.Refused) as exc:
        engine.admit_release(instance, 'project-a', secret)
    assert exc.value.code == 403
    assert _rows(models.ReleaseRate, instance) == 0
    last = db_api.audit_list(instance)[-1]
    assert (last['event'], last['decision']) == ('release', 'refused')
    assert 'no longer registered' in last['reasons'][0]


def test_unbound_instances_have_no_budget(nitride_conf):
    for model in db_api.RATES:
        assert db_api.rate_admit(model, INSTANCE, SECOND, 5, T0) is None
        assert _rows(model, INSTANCE) == 0


def test_release_flood_is_refused_with_retry_after_and_audited(engine,
                                                               limits):
    instance, secret = str(uuid.uuid4()), str(uuid.uuid4())
    engine.register(instance, 'project-a', 'sev-snp',
                    [guests.MEASUREMENT.hex()])
    for _ in range(2):
        engine.admit_release(instance, 'project-a', secret)
    for _ in range(5):
        with pytest.raises(engine_mod.Refused) as exc:
            engine.admit_release(instance, 'project-a', secret)
        assert exc.value.code == 429 and 1 <= exc.value.retry_after <= 30
    refused = [e for e in db_api.audit_list(instance)
               if e['event'] == 'release']
    assert [e['decision'] for e in refused] == ['refused'] * 5
    assert 'too many releases' in refused[-1]['reasons'][0]
    assert {e['secret_ref'] for e in refused} == {secret}


def test_registration_repairs_missing_budgets_and_keeps_the_others(
        engine, limits):
    """Registering again gives a binding the budgets it lacks.

    (A removal that raced a new registration can leave it without.)
    """
    instance = str(uuid.uuid4())
    engine.register(instance, 'project-a', 'sev-snp',
                    [guests.MEASUREMENT.hex()])
    for _ in range(3):
        engine.challenge(instance)  # spends the challenge burst
    db_api.rates_delete(instance)
    with db_api.get_engine().begin() as connection:
        connection.execute(sa.insert(models.ChallengeRate).values(
            instance_uuid=instance, tat=2 ** 62))
    engine.register(instance, 'project-a', 'sev-snp',
                    [guests.MEASUREMENT.hex()])
    assert _rows(models.ReleaseRate, instance) == 1
    engine.admit_release(instance, 'project-a', str(uuid.uuid4()))
    with pytest.raises(engine_mod.Refused) as exc:  # budget kept, not reset
        engine.challenge(instance)
    assert exc.value.code == 429
