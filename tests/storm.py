"""A boot storm: many simulated guests release their disk keys at once.

Shared by ``bench/storm.py`` and ``tests/integration/test_storm_faults.py``.
The servers are the functional tests' :class:`tests.functional.conftest.
Vault`: Barbican 23's API with the Vault, RabbitMQ, two Nitride RPC workers
and Nitride's guest API, each its own process on loopback. Every guest is a
simulated SEV-SNP TEE with its own registered instance and its own disk key
in Barbican, bound to that instance.

All guests are admitted at once and served by a bounded pool of client
threads (``pool`` requests in flight at most). A guest challenges, attests,
asks for its key through ``POST /v1/release`` and opens the sealed blob,
exactly as the enclaivelet does (without the LUKS volume). Failures that
may pass restart the whole exchange with a fresh nonce after an
exponential backoff, for a bounded time per guest; see :func:`boot`.
"""

import base64
import collections
import concurrent.futures
import dataclasses
import json
import os
import random
import sqlite3
import threading
import time
import typing
import uuid

from buckypaper_os.barbican_plugin import sealing
from buckypaper_os import binding
from buckypaper_os.enclaivelet import agent
from buckypaper_os.nitride_service.api import guest_client
from tests.functional import test_vault_release as flow
from tests.integration import conftest as harness
from tests.unit.nitride import guests

VALID = 'valid'
#: Guests whose evidence Nitride must refuse, and how each is made.
INVALID = {
    'debug': lambda instance: {'policy': 0x30000 | (1 << 19)},
    'other-image': lambda instance: {'measurement': b'\x11' * 48},
    # Launched for another instance: its HOST_DATA is not this one's.
    'impostor': lambda instance: {'host_data': binding.host_data(
        str(uuid.uuid4()), flow.PROJECT)},
}


@dataclasses.dataclass
class Member:
    """One guest of the storm, the key it must get and where it is."""

    guest: flow.SealedGuest
    kind: str
    key: bytes
    secret: str


@dataclasses.dataclass
class Outcome:
    """What happened to one guest."""

    member: Member
    admitted: float
    started: float = 0.0
    finished: float = 0.0
    key: typing.Optional[bytes] = None
    #: The final refusal (or why the guest gave up), if no key.
    refusal: typing.Optional[str] = None
    #: Tokens the guest was given, and the causes of its retries.
    tickets: typing.List[str] = dataclasses.field(default_factory=list)
    retries: typing.List[str] = dataclasses.field(default_factory=list)

    @property
    def latency(self) -> float:
        """Seconds from the guest's first request to its last answer."""
        return self.finished - self.started

    @property
    def completion(self) -> float:
        """Seconds from admission (the storm's start) to the end."""
        return self.finished - self.admitted


def populate(vault, pki, count: int, invalid: int = 0,
             threads: int = 8) -> typing.List[Member]:
    """``count`` registered guests with bound keys, ``invalid`` of them bad.

    The bad ones take the kinds of :data:`INVALID` in turn and are spread
    evenly through the list. Secrets are stored one at a time: Barbican
    on SQLite fails concurrent first writes with "database is locked".
    """
    step = count // invalid if invalid else 0
    kinds = list(INVALID)
    barbican = threading.Lock()

    def make(index: int) -> Member:
        kind = VALID
        if step and index % step == step - 1 and index // step < invalid:
            kind = kinds[(index // step) % len(kinds)]
        instance = str(uuid.uuid4())
        vault.nitride.api.register_instance(
            flow.SERVICE, instance, flow.PROJECT, 'sev-snp',
            [guests.MEASUREMENT.hex()])
        options = INVALID[kind](instance) if kind != VALID else {}
        guest = flow.SealedGuest(pki, instance, flow.PROJECT, **options)
        key = os.urandom(64)
        with barbican:
            return Member(guest, kind, key,
                          flow.store_bound(vault, guest, key))

    with concurrent.futures.ThreadPoolExecutor(threads) as pool:
        return list(pool.map(make, range(count)))


def _cause(stage: str, exc: guest_client.GuestApiError) -> str:
    return ('%s: %s %s' % (stage, exc.status,
                           exc.problem.get('title') or '')).strip()


def _retryable(stage: str, status: int) -> bool:
    """May a failure at ``stage`` with ``status`` pass with a retry?

    The enclaivelet's transient statuses; and a refused release after an
    affirming attestation, which only a verifier-side condition causes (a
    worker whose clock is off): the Vault released
    nothing, and a fresh attestation may pass. (No decision at all is a
    503; the enclaivelet, too, retries a refused release, see
    ``agent.NOT_YET_BOUND``.)
    """
    return status in agent.TRANSIENT or (stage == 'release'
                                         and status == 403)


def boot(client: guest_client.GuestClient, member: Member, admitted: float,
         patience: float, backoff: float = 0.05,
         max_backoff: float = 2.0) -> Outcome:
    """One guest's exchange, retried for ``patience`` seconds at most."""
    guest = member.guest
    outcome = Outcome(member, admitted, started=time.perf_counter())
    deadline = outcome.started + patience
    delay = backoff
    while True:
        stage = 'challenge'
        try:
            challenge = client.challenge(guest.instance_uuid)
            stage = 'attest'
            report, certs = guest.evidence(base64.b64decode(
                challenge['nonce']))
            answer = client.attest(guest.instance_uuid, challenge['nonce'],
                                   report, certs, guest.public_key)
            outcome.tickets.append(answer['token'])
            stage = 'release'
            sealed = client.release(member.secret, answer['token'])
            outcome.key = guest.pair.open(sealed, guest.instance_uuid,
                                          member.secret)
            break
        except guest_client.GuestApiError as exc:
            cause = _cause(stage, exc)
            if not _retryable(stage, exc.status):
                outcome.refusal = cause
                break
        except sealing.SealingError as exc:
            outcome.refusal = 'open: %s (%d bytes)' % (exc, len(sealed))
            break
        outcome.retries.append(cause)
        if time.perf_counter() + delay > deadline:
            outcome.refusal = 'gave up after %s' % cause
            break
        time.sleep(delay * random.uniform(0.5, 1.5))
        delay = min(2 * delay, max_backoff)
    outcome.finished = time.perf_counter()
    return outcome


def storm(vault, members: typing.Sequence[Member], pool: int,
          patience: float, on_progress: typing.Optional[
              typing.Callable[[int], None]] = None
          ) -> typing.List[Outcome]:
    """Admit every member at once; serve them with ``pool`` threads.

    ``on_progress(done)`` is called (from a pool thread) after each guest,
    e.g. to inject a fault once part of the storm is through.
    """
    client = guest_client.GuestClient(vault.nitride.api_url, timeout=60)
    done = [0]
    lock = threading.Lock()
    admitted = time.perf_counter()

    def one(member: Member) -> Outcome:
        outcome = boot(client, member, admitted, patience)
        if on_progress is not None:
            with lock:
                done[0] += 1
                count = done[0]
            on_progress(count)
        return outcome

    with concurrent.futures.ThreadPoolExecutor(pool) as executor:
        return list(executor.map(one, members))


def violations(outcomes: typing.Iterable[Outcome]) -> typing.List[str]:
    """Broken invariants, one line each.

    A valid guest must hold exactly its own key; an invalid one no token
    and no key, and a refusal of its evidence.
    """
    broken = []
    for outcome in outcomes:
        member = outcome.member
        name = '%s guest %s' % (member.kind, member.guest.instance_uuid)
        if member.kind == VALID:
            if outcome.key is None:
                broken.append('%s got no key: %s'
                              % (name, outcome.refusal))
            elif outcome.key != member.key:
                broken.append('%s got a wrong key' % name)
        elif outcome.key is not None or outcome.tickets:
            broken.append('%s was given a token or a key' % name)
        elif not (outcome.refusal or '').startswith('attest: 403'):
            broken.append('%s was not refused at attest: %s'
                          % (name, outcome.refusal))
    return broken


def causes(outcomes: typing.Iterable[Outcome]) -> typing.Counter[str]:
    """Retried failures and final refusals, counted by cause."""
    counter: typing.Counter[str] = collections.Counter()
    for outcome in outcomes:
        counter.update(outcome.retries)
        if outcome.refusal:
            counter['final %s (%s guest)' % (
                outcome.refusal, 'valid' if outcome.member.kind == VALID
                else 'invalid')] += 1
    return counter


def jti(ticket: str) -> str:
    """The ``jti`` claim of a token (compact or JSON serialization)."""
    payload = (json.loads(ticket)['payload'] if ticket.startswith('{')
               else ticket.split('.')[1])
    return json.loads(base64.urlsafe_b64decode(
        payload + '=' * (-len(payload) % 4)))['jti']


def rows(path: str, query: str) -> list:
    """The rows of ``query`` on the SQLite file ``path`` (read only)."""
    with sqlite3.connect('file:%s?mode=ro' % path, uri=True,
                         timeout=60) as db:
        return db.execute(query).fetchall()


def counts(vault) -> typing.Dict[str, int]:
    """Secrets in Barbican and the Vault, audit events and attestations."""
    return {
        'barbican secrets': rows(vault.barbican.db, 'SELECT COUNT(*) FROM '
                                 'secrets WHERE deleted = 0')[0][0],
        'vault secrets': rows(vault.barbican.vault_db, 'SELECT COUNT(*) '
                              'FROM buckypaper_vault_secrets')[0][0],
        'audit events': rows(vault.nitride.db, 'SELECT COUNT(*) FROM '
                             'audit_log')[0][0],
        'attestations': rows(vault.nitride.db, 'SELECT COUNT(*) FROM '
                             'attestations')[0][0],
    }


def unaudited(vault, outcomes: typing.Iterable[Outcome]
              ) -> typing.List[str]:
    """Decisions guests saw that the audit log or the records lack.

    Every token a guest got has its attestation record and an affirming
    ``attest`` event; every key a release event; every refused guest a
    refused ``attest`` event.
    """
    events = collections.Counter(rows(
        vault.nitride.db, 'SELECT instance_uuid, event, decision FROM '
        'audit_log'))
    recorded = {row[0] for row in rows(
        vault.nitride.db, 'SELECT token_jti FROM attestations WHERE '
        'token_jti IS NOT NULL')}
    missing = []
    for outcome in outcomes:
        instance = outcome.member.guest.instance_uuid
        expected = {('attest', 'affirming'): len(outcome.tickets),
                    ('release', 'allowed'): int(outcome.key is not None)}
        if outcome.member.kind != VALID:
            expected[('attest', 'refused')] = 1
        for (event, decision), least in expected.items():
            if events[(instance, event, decision)] < least:
                missing.append('%s: %s %s not audited'
                               % (instance, event, decision))
        missing += ['%s: token %s has no attestation record' % (
            instance, ticket[:12]) for ticket in outcome.tickets
            if jti(ticket) not in recorded]
    return missing


def cpu_seconds(pid: typing.Optional[int] = None) -> float:
    """CPU seconds used by process ``pid``, or by the whole machine."""
    tick = os.sysconf('SC_CLK_TCK')
    if pid is None:
        with open('/proc/stat') as f:
            fields = f.readline().split()[1:]
        return (sum(int(v) for v in fields) - int(fields[3])
                - int(fields[4])) / tick
    with open('/proc/%d/stat' % pid) as f:
        fields = f.read().rsplit(')', 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / tick


def pin(pids: typing.Iterable[int], cpus: typing.Set[int]) -> None:
    """Let every thread of the processes ``pids`` run only on ``cpus``.

    Threads started later inherit the affinity of the thread that starts
    them, so pinning every current thread pins the process for good.
    """
    for pid in pids:
        for task in os.listdir('/proc/%d/task' % pid):
            try:
                os.sched_setaffinity(int(task), cpus)
            except ProcessLookupError:
                pass  # the thread ended meanwhile


def descendants(pid: int) -> typing.List[int]:
    """``pid`` and every process below it (RabbitMQ's launcher, beam)."""
    found = [pid]
    for task in os.listdir('/proc/%d/task' % pid):
        with open('/proc/%d/task/%s/children' % (pid, task)) as f:
            for child in f.read().split():
                found += descendants(int(child))
    return found


def broker_pids(root: str) -> typing.List[int]:
    """The processes of the broker a bench started under ``root``."""
    try:
        with open(os.path.join(root, 'rabbitmq', 'server.pid')) as f:
            return descendants(int(f.read()))
    except (OSError, ValueError):
        return []  # none: the bench was given one


def layouts(barbican: typing.List[int], others: typing.List[int]
            ) -> typing.Dict[str, typing.Callable[[], None]]:
    """Name to a function arranging the processes on the CPUs.

    ``shared``: every process may run on every CPU. ``dedicated``:
    Barbican's processes alone on the first CPU and the others on the
    rest, as in a cloud whose verifier and broker (and guests) do not
    share Barbican's API cores; it comes last, and needs two CPUs.
    """
    every = os.sched_getaffinity(0)
    first = min(every)

    def shared():
        pin(barbican + others, every)

    def dedicated():
        pin(barbican, {first})
        pin(others, every - {first})

    return ({'shared': shared, 'dedicated': dedicated} if len(every) > 1
            else {'shared': shared})


def group_cpu_seconds(group: int) -> float:
    """CPU seconds of every live process of process group ``group``."""
    total = 0.0
    for name in os.listdir('/proc'):
        if not name.isdigit():
            continue
        try:
            with open('/proc/%s/stat' % name) as f:
                fields = f.read().rsplit(')', 1)[1].split()
        except OSError:
            continue  # gone meanwhile
        if int(fields[2]) == group:
            total += cpu_seconds(int(name))
    return total


class Meter:
    """CPU seconds of the deployment's processes over an interval."""

    def __init__(self, vault, broker_state: typing.Optional[str] = None
                 ) -> None:
        nitride = vault.nitride
        self.sources: typing.Dict[str, typing.Callable[[], float]] = {
            # uWSGI's workers too: each server leads its process group.
            'barbican': lambda: group_cpu_seconds(
                vault.barbican.process.pid),
            'nitride-api': lambda: group_cpu_seconds(
                nitride.api_process.pid),
        }
        for index in range(nitride.workers):
            self.sources['nitride-%d' % index] = (
                lambda i=index: cpu_seconds(nitride.processes[i].pid))
        pid_file = broker_state and os.path.join(broker_state,
                                                 'server.pid')
        if pid_file and os.path.exists(pid_file):
            with open(pid_file) as f:
                group = int(f.read())
            self.sources['rabbitmq'] = lambda: group_cpu_seconds(group)
        self.sources['clients'] = lambda: cpu_seconds(os.getpid())
        self.sources['machine'] = cpu_seconds
        self.start: typing.Dict[str, float] = {}

    def __enter__(self) -> 'Meter':
        self.start = {name: read() for name, read in self.sources.items()}
        self.began = time.perf_counter()
        return self

    def __exit__(self, *exc_info) -> None:
        self.elapsed = time.perf_counter() - self.began
        self.used = {name: read() - self.start[name]
                     for name, read in self.sources.items()}


def summary(name: str, outcomes: typing.Sequence[Outcome],
            meter: Meter) -> dict:
    """Rate, latencies and CPU of one run, as printed by the bench."""
    served = [o for o in outcomes if o.key is not None]
    latency = [o.latency for o in served] or [0.0]
    completion = [o.completion for o in served] or [0.0]
    return {
        'name': name, 'guests': len(outcomes), 'served': len(served),
        'seconds': meter.elapsed, 'per_second': len(served) / meter.elapsed,
        'p50': harness.percentile(latency, 0.5),
        'p99': harness.percentile(latency, 0.99), 'max': max(latency),
        'completion_p99': harness.percentile(completion, 0.99),
        'completion_max': max(completion),
        'cpu_ms': {n: 1000 * v / max(1, len(served))
                   for n, v in meter.used.items()},
        'causes': dict(causes(outcomes)),
        'violations': violations(outcomes),
    }
