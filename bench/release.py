#!/usr/bin/env python3
"""Sealed releases vs plain reads through one real Barbican API server.

Starts RabbitMQ on loopback (or uses $BUCKYPAPER_TRANSPORT_URL), two
Nitride workers and the guest API, and Barbican 23's API with the Vault
(SQLite, loopback), as the functional tests do. N simulated TEEs attest
and each gets a disk key bound to its instance. Then, with C concurrent
callers against the same Barbican server in the same run:

* plain payload reads of an unbound secret (``GET .../payload``), by
  its owner and by Nitride's user through the secret's ACL (Barbican's own
  extra cost of the path a release takes), with python-barbicanclient's
  ``Accept: application/octet-stream``, and once with the relay's
  ``Accept: */*``;
* gated, sealed releases as Nitride's relay makes them (``GET .../payload``
  with the ticket: ACL check, Nitride's RPC decision, decryption, HPKE
  sealing), each blob opened by the guest afterwards;
* the same through Nitride's guest API (``POST /v1/release``), for scale.

Plain reads and sealed releases alternate for ``--rounds`` rounds, so that
a slow spell of the machine hurts both alike; the ratio is the median of
the rounds'. Each round runs in two layouts of the same processes:

* ``dedicated``: Barbican's processes have CPU 0 to themselves; Nitride,
  RabbitMQ and this process run on the other CPUs, as in a cloud where
  Barbican's API hosts (or cores) are not shared with the verifier and
  the broker;
* ``shared``: every process may run on every CPU.

Barbican runs as in production, under uWSGI (two processes of four
threads; ``--barbican-server wsgiref`` for a thread per request). In the
shared layout plain reads have both CPUs to themselves while sealed
releases share them with Nitride and RabbitMQ, so that ratio measures the
whole stack on this machine; the dedicated layout measures Barbican's own
cost of both paths.

Prints requests per second and p50/p99 latency of each, the CPU
milliseconds per request of Barbican, each Nitride process, RabbitMQ (when
this run started it), this process and the whole machine (which other
work may share), and the ratio of sealed releases to plain reads per
layout (target, dedicated layout: at least 0.8). Barbican reaches
RabbitMQ directly, without the tests' tap.

Usage: python bench/release.py [--guests N] [--callers C] [--requests R]
                               [--rounds K] [--barbican-server S]
"""

import argparse
import concurrent.futures
import os
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
from tests.functional import test_vault_release as flow  # noqa: E402
from tests.integration import conftest as harness  # noqa: E402
from tests import storm  # noqa: E402


def cpu_seconds(pids):
    """CPU seconds used by the processes ``pids``, or by the machine."""
    if pids is None:
        return storm.cpu_seconds()
    return sum(storm.cpu_seconds(pid) for pid in pids)


def run(name, callers, count, call, processes):
    """Run ``call(i)`` ``count`` times on ``callers`` threads; the rate.

    Also prints the CPU milliseconds per request of each process in
    ``processes`` (name to pids) and of the whole machine.
    """
    def timed(index):
        begin = time.perf_counter()
        result = call(index)
        return time.perf_counter() - begin, result

    with concurrent.futures.ThreadPoolExecutor(callers) as pool:
        list(pool.map(timed, range(min(count, 2 * callers))))  # warm up
        before = {n: cpu_seconds(p) for n, p in processes.items()}
        start = time.perf_counter()
        done = list(pool.map(timed, range(count)))
        elapsed = time.perf_counter() - start
        used = {n: cpu_seconds(p) - before[n] for n, p in processes.items()}
    latencies = [d[0] for d in done]
    rate = count / elapsed
    print('%-40s %8.1f /s   p50 %7.1f ms   p99 %7.1f ms   (%d in %.1f s)'
          % (name, rate, 1000 * statistics.median(latencies),
             1000 * harness.percentile(latencies, 0.99), count, elapsed))
    print('%40s CPU ms/request: %s' % ('', ', '.join(
        '%s %.1f' % (n, 1000 * v / count) for n, v in used.items())))
    return rate, [d[1] for d in done], used


def add(totals, used):
    """Add the CPU seconds ``used`` (name to seconds) into ``totals``."""
    for name, seconds in used.items():
        totals[name] = totals.get(name, 0.0) + seconds


def main():
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('--guests', type=int, default=8)
    parser.add_argument('--callers', type=int, default=8)
    parser.add_argument('--requests', type=int, default=400)
    parser.add_argument('--rounds', type=int, default=3,
                        help='plain/sealed pairs, run alternately')
    parser.add_argument('--barbican-server', default='uwsgi',
                        choices=barbican_mod.SERVERS,
                        help='Barbican\'s API server (default: uwsgi, '
                        'as in production)')
    args = parser.parse_args()
    root = tempfile.mkdtemp(prefix='bench-release-')
    with harness.any_broker(root, 5703) as url:
        measure(args, root, url)


def measure(args, root, url):
    pki = pki_mod.SimulatedPki.generate()
    pki.save(os.path.join(root, 'pki'))
    for sub in ('nitride', 'barbican'):
        os.makedirs(os.path.join(root, sub))
    # Each guest's ticket serves many releases here: lift the per-instance
    # release rate limit (a flood guard), as bench/nitride.py does the
    # challenges'. Not to one release a microsecond: a request that waits
    # for the database longer than its burst lasts (1,000 intervals) would
    # then find its clock behind the budget and be refused.
    vault = vault_harness.Vault(root, url, os.path.join(root, 'pki'),
                                debug=False, tap=False,
                                barbican_server=args.barbican_server,
                                options={'nitride': {
                                    'release_burst': 1000,
                                    'releases_per_minute': 60000}})
    try:
        barbican = vault.barbican
        population = []
        for _ in range(args.guests):
            guest = flow.registered(vault, pki)
            key = os.urandom(64)
            secret = flow.store_bound(vault, guest, key)
            population.append((guest, key, secret,
                               flow.attest(vault, guest)))
        plain_key = os.urandom(64)
        plain = barbican.store(flow.TENANT, plain_key,
                               acl_users=[vault_harness.NITRIDE_USER])

        def read(index):
            assert barbican.payload(plain, flow.TENANT) == plain_key

        def read_through_acl(index):
            assert barbican.payload(plain, flow.NITRIDE) == plain_key

        def read_any_type(index):  # the Accept header a release sends
            assert barbican.payload(
                plain, flow.TENANT,
                accept=barbican_relay.SEALED_ACCEPT) == plain_key

        def sealed(index):
            guest, key, secret, ticket = population[index % len(population)]
            return index, barbican.payload(secret, flow.NITRIDE, ticket,
                                           vault.transport_key_id)

        def relayed(index):
            guest, key, secret, ticket = population[index % len(population)]
            return index, flow.client(vault).release(secret, ticket)

        workers = vault.nitride.processes[:vault.nitride.workers]
        processes = {'barbican': storm.descendants(barbican.process.pid),
                     'machine': None,
                     'bench': [os.getpid()]}
        processes.update(('nitride-%d' % i, [w.pid])
                         for i, w in enumerate(workers))
        processes['nitride-api'] = [vault.nitride.api_process.pid]
        if storm.broker_pids(root):
            processes['rabbitmq'] = storm.broker_pids(root)
        others = [pid for name, pids in processes.items()
                  if name not in ('barbican', 'machine') for pid in pids]
        arrange = storm.layouts(processes['barbican'], others)
        print('%d CPUs' % os.cpu_count())
        print('Barbican %s, Vault store, %d callers, %d guests'
              % (barbican_mod.VAULT_PLUGIN.split('.')[-1], args.callers,
                 args.guests))
        ratios = {name: [] for name in arrange}
        plain_cpu = {name: {} for name in arrange}
        sealed_cpu = {name: {} for name in arrange}
        for _ in range(args.rounds):  # interleaved: drifts hit both alike
            for layout, apply in arrange.items():
                apply()
                plain_rate, _, used = run(
                    'plain payload read (unbound), %s' % layout,
                    args.callers, args.requests, read, processes)
                add(plain_cpu[layout], used)
                sealed_rate, blobs, used = run(
                    'sealed release (Barbican, gated), %s' % layout,
                    args.callers, args.requests, sealed, processes)
                add(sealed_cpu[layout], used)
                for index, blob in blobs:
                    guest, key, secret, _ = population[
                        index % len(population)]
                    assert guest.pair.open(blob, guest.instance_uuid,
                                           secret) == key
                ratios[layout].append(sealed_rate / plain_rate)
        reference = list(arrange)[-1]
        arrange[reference]()
        _, _, acl_cpu = run(
            'plain read by Nitride\'s user (ACL), %s' % reference,
            args.callers, args.requests, read_through_acl, processes)
        run('plain read, Accept %s, %s' % (barbican_relay.SEALED_ACCEPT,
                                           reference),
            args.callers, args.requests, read_any_type, processes)
        run('sealed release (Nitride /v1/release), %s' % reference,
            args.callers, args.requests // 2, relayed, processes)
        total = args.rounds * args.requests
        for layout in arrange:
            print('%s: ratio sealed / plain per round: %s; median %.2f%s'
                  % (layout, ', '.join('%.2f' % r for r in ratios[layout]),
                     statistics.median(ratios[layout]),
                     ' (target >= 0.80)' if layout == reference else ''))
            print('%s: Barbican CPU ms per request: plain %.1f, sealed %.1f '
                  '(ratio %.2f); Nitride (all workers) %.1f per release'
                  % (layout, 1000 * plain_cpu[layout]['barbican'] / total,
                     1000 * sealed_cpu[layout]['barbican'] / total,
                     plain_cpu[layout]['barbican']
                     / sealed_cpu[layout]['barbican'],
                     1000 * sum(v for n, v in sealed_cpu[layout].items()
                                if n.startswith('nitride-')) / total))
        print('Barbican CPU ms per plain read through the ACL (%s): %.1f'
              % (reference, 1000 * acl_cpu['barbican'] / args.requests))
    finally:
        vault.stop()


if __name__ == '__main__':
    main()
