#!/usr/bin/env python3
"""Nitride under load on this machine: the guest API and the RPC service.

Starts a RabbitMQ broker on loopback (or uses $BUCKYPAPER_TRANSPORT_URL),
two Nitride RPC workers and the guest API on one SQLite database, with a
simulated TEE. Then prints:

* attest requests per second and p50/p99 latency of challenge + attest
  through the HTTP API, with N concurrent simulated guests;
* authorize_release calls per second (and p50/p99) through RabbitMQ with
  M concurrent callers.

Usage: python bench/nitride.py [--guests N] [--rounds R] [--callers M]
"""

import argparse
import concurrent.futures
import os
import statistics
import sys
import tempfile
import time
import uuid

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.dirname(HERE))

from oslo_context import context as context_mod  # noqa: E402

from buckypaper_os.nitride_service.api import guest_client  # noqa: E402
from buckypaper_os.nitride_service import decision  # noqa: E402
from buckypaper_os.nitride_service import engine as engine_mod  # noqa: E402
from buckypaper_os.simulated_tee import pki as pki_mod  # noqa: E402
from tests.integration import conftest as harness  # noqa: E402
from tests.unit.nitride import guests  # noqa: E402

PROJECT = 'bench'
SERVICE = context_mod.RequestContext(user_id='bench', project_id='svc',
                                     roles=['service'])


def report(name, count, seconds, latencies):
    print('%-34s %8.1f /s   p50 %7.1f ms   p99 %7.1f ms   (%d in %.1f s)'
          % (name, count / seconds, 1000 * statistics.median(latencies),
             1000 * harness.percentile(latencies, 0.99), count, seconds))


def attest_once(client, guest):
    start = time.perf_counter()
    challenge = client.challenge(guest.instance_uuid)
    nonce = engine_mod.b64decode(challenge['nonce'], 'nonce', 64)
    evidence, certs = guest.evidence(nonce)
    answer = client.attest(guest.instance_uuid, challenge['nonce'],
                           evidence, certs, guest.public_key)
    assert answer['status'] == 'affirming', answer
    return time.perf_counter() - start, answer['token']


def main():
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('--guests', type=int, default=16)
    parser.add_argument('--rounds', type=int, default=5)
    parser.add_argument('--callers', type=int, default=16)
    parser.add_argument('--releases', type=int, default=400)
    args = parser.parse_args()
    root = tempfile.mkdtemp(prefix='bench-nitride-')
    with harness.any_broker(root, 5702) as url:
        run(args, root, url)


def run(args, root, url):
    pki = pki_mod.SimulatedPki.generate()
    pki.save(os.path.join(root, 'pki'))
    # Each instance is challenged --rounds times within a second, by
    # concurrent threads: lift the rate limit (a flood guard), which would
    # otherwise refuse challenges beyond its burst of 5.
    nitride = harness.Deployment(root, url, os.path.join(root, 'pki'),
                                 workers=2, api=True, options={
                                     'nitride': {'challenge_burst': 1000}})
    try:
        population = []
        for _ in range(args.guests):
            instance = str(uuid.uuid4())
            nitride.api.register_instance(SERVICE, instance, PROJECT,
                                          'sev-snp',
                                          [guests.MEASUREMENT.hex()])
            population.append(guests.Guest(pki, instance, PROJECT))
        client = guest_client.GuestClient(nitride.api_url, timeout=60)
        work = [g for _ in range(args.rounds) for g in population]
        with concurrent.futures.ThreadPoolExecutor(args.guests) as pool:
            start = time.perf_counter()
            done = list(pool.map(lambda g: attest_once(client, g), work))
            elapsed = time.perf_counter() - start
        report('HTTP challenge+attest (%d guests)' % args.guests,
               len(done), elapsed, [d[0] for d in done])
        tickets = [(g, token) for g, (_, token) in zip(work, done)]

        def release(index):
            guest, ticket = tickets[index % len(tickets)]
            begin = time.perf_counter()
            answer = nitride.api.authorize_release(
                SERVICE, ticket, 'secret-%d' % index, PROJECT,
                {'instance': guest.instance_uuid}, decision.new_challenge())
            assert answer['allowed'] and answer['signature'], answer
            return time.perf_counter() - begin

        with concurrent.futures.ThreadPoolExecutor(args.callers) as pool:
            start = time.perf_counter()
            latencies = list(pool.map(release, range(args.releases)))
            elapsed = time.perf_counter() - start
        report('RPC authorize_release (%d callers)' % args.callers,
               len(latencies), elapsed, latencies)
    finally:
        nitride.stop()


if __name__ == '__main__':
    main()
