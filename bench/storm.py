#!/usr/bin/env python3
"""A boot storm: N guests attest and release their disk keys at once.

Starts RabbitMQ on loopback (or uses $BUCKYPAPER_TRANSPORT_URL), two
Nitride RPC workers, Nitride's guest API and Barbican 23's API with the
Vault (SQLite), each its own process, as ``tests/storm.py`` describes.
The guest API and Barbican run as in production, under uWSGI (2 processes
of 4 threads each; ``--api-server wsgiref`` and ``--barbican-server
wsgiref``: the development servers instead).
Then, in one run on the same servers, ``--rounds`` times:

* the storm: every guest admitted at once, served by ``--pool`` client
  threads (requests in flight), each guest's key checked byte for byte;
  ``--invalid`` of them present evidence Nitride must refuse;
* plain payload reads of unbound secrets through the same Barbican, with
  ``--pool`` callers, as python-barbicanclient makes them (``Accept:
  application/octet-stream``);

then once the same reads with the ``Accept: */*`` of Nitride's relay
(cheaper for Barbican, see ``barbican_relay``), for reference, and once a
sequential baseline: ``--sequential`` more guests, one at a time. Storms
and plain reads alternate so that the machine's drifts hit both alike.
All of it runs in one layout of the processes on the CPUs
(``--layout``): ``shared``, every process on every CPU, or
``dedicated``, Barbican alone on the first CPU and the rest (the guest
API, the workers, RabbitMQ and the simulated guests) on the other, as in
a cloud where Barbican's API has cores of its own.

Prints releases per second, latency (p50/p99/max from a guest's first
request to its opened key, and p99/max from its admission), failures by
cause, CPU milliseconds per release of each process and of the machine,
and the ratio of storm releases to plain reads, per round and their
median (targets at 1,000 guests: p99 under 2 s, ratio at least 0.7; at
10,000: every guest served).

Usage: python bench/storm.py [--guests N] [--pool P] [--invalid I]
                             [--rounds R] [--layout shared|dedicated]
                             [--api-server uwsgi|wsgiref]
                             [--barbican-server uwsgi|wsgiref]
"""

import argparse
import concurrent.futures
import os
import random
import signal
import statistics
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.dirname(HERE))

from buckypaper_os.demo import barbican as barbican_mod  # noqa: E402
from buckypaper_os.nitride_service import barbican_relay  # noqa: E402
from buckypaper_os.simulated_tee import pki as pki_mod  # noqa: E402
from tests.functional import conftest as vault_harness  # noqa: E402
from tests.functional import leaks  # noqa: E402
from tests.functional import test_vault_release as flow  # noqa: E402
from tests.integration import conftest as harness  # noqa: E402
from tests import storm  # noqa: E402

#: Keys searched for in the databases and logs after the run.
LEAK_SAMPLE = 200


def show(figures: dict) -> None:
    print('%s: %d of %d guests served in %.1f s: %.1f releases/s'
          % (figures['name'], figures['served'], figures['guests'],
             figures['seconds'], figures['per_second']))
    print('  latency (first request to key) p50 %.0f ms, p99 %.0f ms, '
          'max %.0f ms; from admission p99 %.1f s, max %.1f s'
          % (1000 * figures['p50'], 1000 * figures['p99'],
             1000 * figures['max'], figures['completion_p99'],
             figures['completion_max']))
    print('  CPU ms per release: %s' % ', '.join(
        '%s %.1f' % kv for kv in figures['cpu_ms'].items()))
    for cause, count in sorted(figures['causes'].items()):
        print('  %6d x %s' % (count, cause))
    for violation in figures['violations']:
        print('  VIOLATION %s' % violation)


def plain_reads(vault, count: int, pool: int, meter: storm.Meter,
                accept: str = barbican_mod.CLIENT_ACCEPT) -> float:
    """Reads per second of unbound secrets with ``pool`` callers."""
    barbican = vault.barbican
    values = [os.urandom(64) for _ in range(min(count, 100))]
    secrets = [barbican.store(flow.TENANT, v) for v in values]
    latencies = []

    def read(index: int) -> None:
        begin = time.perf_counter()
        got = barbican.payload(secrets[index % len(secrets)], flow.TENANT,
                               accept=accept)
        latencies.append(time.perf_counter() - begin)
        assert got == values[index % len(values)]

    with concurrent.futures.ThreadPoolExecutor(pool) as executor:
        with meter:
            list(executor.map(read, range(count)))
    rate = count / meter.elapsed
    print('plain payload reads (Accept %s): %d in %.1f s: %.1f reads/s, '
          'p50 %.0f ms, p99 %.0f ms, max %.0f ms' % (
              accept, count, meter.elapsed, rate,
              1000 * harness.percentile(latencies, 0.5),
              1000 * harness.percentile(latencies, 0.99),
              1000 * max(latencies)))
    print('  CPU ms per read: %s' % ', '.join(
        '%s %.1f' % (n, 1000 * v / count) for n, v in meter.used.items()))
    return rate


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('--guests', type=int, default=1000)
    parser.add_argument('--pool', type=int, default=32,
                        help='requests in flight (client threads)')
    parser.add_argument('--invalid', type=int, default=None,
                        help='guests with bad evidence (default 1%%)')
    parser.add_argument('--api-server', choices=harness.API_SERVERS,
                        default='uwsgi', help='what serves the guest API')
    parser.add_argument('--barbican-server', default='uwsgi',
                        choices=barbican_mod.SERVERS,
                        help='what serves Barbican\'s API')
    parser.add_argument('--layout', choices=('shared', 'dedicated'),
                        default='shared',
                        help='shared: every process on every CPU; '
                        'dedicated: Barbican alone on the first CPU '
                        '(tests/storm.py, layouts)')
    parser.add_argument('--rounds', type=int, default=1,
                        help='storms, each followed by plain reads (the '
                        'ratio is the median of the rounds\')')
    parser.add_argument('--sequential', type=int, default=50)
    parser.add_argument('--reads', type=int, default=1000)
    parser.add_argument('--patience', type=float, default=120,
                        help='seconds a guest keeps retrying')
    args = parser.parse_args()
    if args.invalid is None:
        args.invalid = max(3, args.guests // 100)
    # A timeout's SIGTERM stops the servers too (the finally clauses).
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    root = tempfile.mkdtemp(prefix='bench-storm-')
    with harness.any_broker(root, 5704) as url:
        return measure(args, root, url)


def measure(args, root: str, url: str) -> int:
    pki = pki_mod.SimulatedPki.generate()
    pki.save(os.path.join(root, 'pki'))
    for sub in ('nitride', 'barbican'):
        os.makedirs(os.path.join(root, sub))
    vault = vault_harness.Vault(root, url, os.path.join(root, 'pki'),
                                debug=False, api_server=args.api_server,
                                barbican_server=args.barbican_server)
    try:
        state = os.path.join(root, 'rabbitmq')
        begin = time.perf_counter()
        rounds = [storm.populate(vault, pki, args.guests, args.invalid)
                  for _ in range(args.rounds)]
        baseline = storm.populate(vault, pki, args.sequential)
        print('%d CPUs; %d x %d + %d guests registered with bound keys in '
              '%.0f s' % (os.cpu_count(), args.rounds, args.guests,
                          len(baseline), time.perf_counter() - begin))
        others = (storm.descendants(vault.nitride.api_process.pid)
                  + [p.pid for p in vault.nitride.processes]
                  + storm.broker_pids(root) + [os.getpid()])
        storm.layouts(storm.descendants(vault.barbican.process.pid),
                      others)[args.layout]()
        print('layout: %s' % args.layout)
        outcomes, rates, ratios = [], [], []
        for index, members in enumerate(rounds):
            print('storm %d of %d: %d guests (%d with evidence that must be '
                  'refused) admitted at once, %d requests in flight; guest '
                  'API on %s, Barbican on %s' % (
                      index + 1, args.rounds, args.guests, args.invalid,
                      args.pool, args.api_server, args.barbican_server))
            with storm.Meter(vault, state) as meter:
                stormy = storm.storm(vault, members, args.pool,
                                     args.patience)
            figures = storm.summary('storm', stormy, meter)
            show(figures)
            outcomes += stormy
            rate = plain_reads(vault, args.reads, args.pool,
                               storm.Meter(vault, state))
            rates.append(figures['per_second'])
            ratios.append(rates[-1] / rate)
            print('ratio storm releases / plain reads: %.2f' % ratios[-1])
        print('ratio per round: %s; median %.2f (target >= 0.7)' % (
            ', '.join('%.2f' % r for r in ratios),
            statistics.median(ratios)))
        # For reference: reads with the Accept header a release sends.
        rate = plain_reads(vault, args.reads, args.pool,
                           storm.Meter(vault, state),
                           barbican_relay.SEALED_ACCEPT)
        print('median storm rate / plain reads with Accept %s: %.2f' % (
            barbican_relay.SEALED_ACCEPT,
            statistics.median(rates) / rate))
        with storm.Meter(vault, state) as meter:
            sequential = storm.storm(vault, baseline, 1, args.patience)
        show(storm.summary('sequential', sequential, meter))
        outcomes += sequential
        missing = storm.unaudited(vault, outcomes)
        print('decisions missing from the audit log: %d' % len(missing))
        sample = random.sample([o.member.key for o in outcomes],
                               min(LEAK_SAMPLE, len(outcomes)))
        found = leaks.find(sample, leaks.haystacks(
            root, bytes(vault.tap.captured)))
        print('key-leak scan of %d keys in the databases, the logs and '
              'Barbican\'s AMQP frames (%.1f MB): %d found'
              % (len(sample), len(vault.tap.captured) / 1e6, len(found)))
        broken = storm.violations(outcomes)
        return 1 if broken or missing or found else 0
    finally:
        vault.stop()


if __name__ == '__main__':
    sys.exit(main())
