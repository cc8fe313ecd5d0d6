#!/usr/bin/env python3
"""Expected SNP launch digest: our code next to sev-snp-measure.

For Debian sid's 4 MiB OVMF.amdsev.fd prints, in one process:

(a) one SHA-384 pass over the image in memory (the floor);
(b) our cold digest: the first computation for the image (file read,
    parse, firmware pages, metadata, VMSAs; caches cleared before each);
(c) our warm digest: the same image with other vCPU counts, CPU models and
    kernel hash inputs (the firmware prefix comes from the cache; the
    kernel hashes are an input, computed once per kernel);
(d) the ``sev-snp-measure`` package for the same inputs, plain and with
    its precomputed ``ovmf_hash`` seed.

Targets: cold <= 1.3 x the floor; warm >= 20 x faster than plain
sev-snp-measure and >= 5 x faster than sev-snp-measure with its seed;
every digest bit-identical to sev-snp-measure's. Exit status 1 when a
digest differs or a target is missed.

Usage: python bench/measure.py [--firmware FILE] [--rounds N]
"""

import argparse
import hashlib
import itertools
import os
import statistics
import sys
import tempfile
import time

from sevsnpmeasure import guest
from sevsnpmeasure import vcpu_types

from buckypaper_os.attestation.snp import kernel_hashes
from buckypaper_os.attestation.snp import measure

HERE = os.path.dirname(os.path.abspath(__file__))
DEFAULT_FIRMWARE = os.path.join(
    os.environ.get('BUCKYPAPER_FIRMWARE')
    or os.path.join(HERE, '..', '.firmware'), 'OVMF.amdsev.fd')

COLD_TARGET = 1.3
WARM_VS_PLAIN = 20.0
WARM_VS_SEED = 5.0


def timed(func, rounds: int) -> tuple:
    """Median seconds per call of ``func`` over ``rounds`` calls.

    Returns that and the results; the first call is a warm-up.
    """
    results = [func()]
    times = []
    for _ in range(rounds):
        start = time.perf_counter()
        results.append(func())
        times.append(time.perf_counter() - start)
    return statistics.median(times), results


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('--firmware', default=DEFAULT_FIRMWARE)
    parser.add_argument('--rounds', type=int, default=60)
    args = parser.parse_args()
    if not os.path.isfile(args.firmware):
        sys.exit('%s not found: run tools/fetch-firmware.sh' % args.firmware)
    with open(args.firmware, 'rb') as f:
        image = f.read()

    tmp = tempfile.mkdtemp(prefix='bench-measure.')
    kernel = os.path.join(tmp, 'vmlinuz')
    initrd = os.path.join(tmp, 'initrd')
    with open(kernel, 'wb') as f:
        f.write(b'MZ' + os.urandom(64 * 1024))
    with open(initrd, 'wb') as f:
        f.write(os.urandom(32 * 1024))
    hashes = kernel_hashes.KernelHashes.from_files(kernel, initrd, 'ro')
    # The launch inputs cycled through: vCPUs, CPU model, kernel or none.
    inputs = list(itertools.product(
        (1, 4, 16), ('EPYC-v4', 'EPYC-Milan', 'EPYC-Genoa'),
        (None, (kernel, initrd, 'ro'))))
    cycle = itertools.cycle(inputs)
    seed = guest.calc_snp_ovmf_hash(args.firmware).hex()

    def ours():
        vcpus, model, k = next(cycle)
        return (vcpus, model, k), measure.launch_digest(
            args.firmware, vcpus, cpu_model=model,
            kernel_hashes=hashes if k else None)

    def cold():
        measure.clear_cache()
        return ours()

    def oracle(with_seed):
        def run():
            vcpus, model, k = next(cycle)
            k = k or (None, None, None)
            return (vcpus, model, k[0] and k), guest.snp_calc_launch_digest(
                vcpus, vcpu_types.CPU_SIGS[model], args.firmware, k[0], k[1],
                k[2], 0x1, seed if with_seed else '')
        return run

    floor, _ = timed(lambda: hashlib.sha384(image).digest(), args.rounds)
    cold_t, cold_results = timed(cold, args.rounds)
    measure.launch_digest(args.firmware, 1, cpu_model='EPYC-v4')
    warm_t, warm_results = timed(ours, args.rounds * 10)
    plain_t, plain_results = timed(oracle(False), args.rounds)
    seed_t, seed_results = timed(oracle(True), args.rounds * 5)

    expected = {}
    for key, digest in plain_results + seed_results:
        expected.setdefault(key, digest)
        if expected[key] != digest:
            print('sev-snp-measure disagrees with itself for %r' % (key,))
            return 1
    mismatches = [key for key, digest in cold_results + warm_results
                  if expected.get(key, digest) != digest]
    compared = sum(1 for key, _ in cold_results + warm_results
                   if key in expected)

    print('%s (%d bytes), %d launch input sets'
          % (args.firmware, len(image), len(inputs)))
    rows = [
        ('(a) SHA-384 of the image (floor)', floor),
        ('(b) ours, cold', cold_t),
        ('(c) ours, warm', warm_t),
        ('(d) sev-snp-measure', plain_t),
        ('(d) sev-snp-measure, ovmf_hash seed', seed_t),
    ]
    for name, seconds in rows:
        print('%-38s %9.3f ms' % (name, seconds * 1e3))
    checks = [
        ('cold <= %.1f x floor' % COLD_TARGET, cold_t / floor,
         cold_t <= COLD_TARGET * floor, '%.2f x'),
        ('warm >= %.0f x faster than plain' % WARM_VS_PLAIN,
         plain_t / warm_t, plain_t >= WARM_VS_PLAIN * warm_t, '%.0f x'),
        ('warm >= %.0f x faster than seeded' % WARM_VS_SEED,
         seed_t / warm_t, seed_t >= WARM_VS_SEED * warm_t, '%.0f x'),
        ('bit-identical to sev-snp-measure', compared,
         not mismatches, '%d digests compared'),
    ]
    print('targets:')
    for name, value, ok, fmt in checks:
        print('  %-36s %-22s %s' % (name, fmt % value,
                                    'ok' if ok else 'MISSED'))
    return 0 if all(ok for _, _, ok, _ in checks) else 1


if __name__ == '__main__':
    sys.exit(main())
