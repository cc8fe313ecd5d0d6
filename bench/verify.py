#!/usr/bin/env python3
"""Verification throughput on one core, next to raw ECDSA verify rates.

Prints SNP and TDX verifications per second with warm caches, the raw
P-384 and P-256 ECDSA verify rates of ``cryptography`` measured in the same
run, and the ratios against the targets: SNP >= 0.85 x raw P-384, TDX >= 0.7
x half the raw P-256 rate (a quote carries two P-256 signatures).

Usage: python bench/verify.py [--seconds S] [--vectors DIR]
"""

import argparse
import datetime
import os
import time

from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives import hashes

from buckypaper_os import attestation
from buckypaper_os.attestation import collateral_dir

HERE = os.path.dirname(os.path.abspath(__file__))
DEFAULT_VECTORS = os.environ.get('BUCKYPAPER_VECTORS') or os.path.join(
    HERE, '..', '..', 'shared', 'vectors')
TDX_FILES = ('tcb_info.json', 'tcb_info_issuer_chain.pem', 'qe_identity.json',
             'qe_identity_issuer_chain.pem', 'pck_crl.der',
             'pck_crl_issuer_chain.pem', 'root_ca_crl.der')


def rate(func, seconds: float) -> float:
    """Calls of ``func`` per second over about ``seconds``."""
    func()
    count, start = 0, time.perf_counter()
    deadline = start + seconds
    while True:
        for _ in range(50):
            func()
        count += 50
        now = time.perf_counter()
        if now >= deadline:
            return count / (now - start)


def raw_ecdsa(curve, hash_algorithm, seconds: float) -> float:
    key = ec.generate_private_key(curve)
    data = os.urandom(1184)
    signature = key.sign(data, ec.ECDSA(hash_algorithm))
    public = key.public_key()
    return rate(lambda: public.verify(signature, data,
                                      ec.ECDSA(hash_algorithm)), seconds)


def _read(path: str) -> bytes:
    with open(path, 'rb') as f:
        return f.read()


def _at(case_dir: str) -> datetime.datetime:
    import json
    value = json.loads(_read(os.path.join(case_dir, 'expected.json')))['at']
    return datetime.datetime.fromisoformat(value.replace('Z', '+00:00'))


def snp_rate(vectors: str, seconds: float) -> float:
    case = os.path.join(vectors, 'snp-milan-v2-virtee')
    evidence = _read(os.path.join(case, 'evidence.bin'))
    certs = [_read(os.path.join(case, n))
             for n in ('vcek.pem', 'cert_chain.pem')]
    at = _at(case)

    def once():
        result = attestation.verify(evidence, tee='sev-snp', certs=certs,
                                    at=at)
        assert result.status == 'affirming', result.reasons
    return rate(once, seconds)


def tdx_rate(vectors: str, seconds: float) -> float:
    case = os.path.join(vectors, 'tdx-v4-uptodate')
    evidence = _read(os.path.join(case, 'evidence.bin'))
    collateral = collateral_dir.MemoryCollateral(
        {n: _read(os.path.join(case, n)) for n in TDX_FILES})
    at = _at(case)

    def once():
        result = attestation.verify(evidence, tee='tdx',
                                    collateral=collateral, at=at)
        assert result.status == 'affirming', result.reasons
    return rate(once, seconds)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('--seconds', type=float, default=3.0)
    parser.add_argument('--vectors', default=DEFAULT_VECTORS)
    args = parser.parse_args()
    p384 = raw_ecdsa(ec.SECP384R1(), hashes.SHA384(), args.seconds)
    p256 = raw_ecdsa(ec.SECP256R1(), hashes.SHA256(), args.seconds)
    snp = snp_rate(args.vectors, args.seconds)
    tdx = tdx_rate(args.vectors, args.seconds)
    rows = [
        ('raw ECDSA P-384 verify', p384, None, None),
        ('raw ECDSA P-256 verify', p256, None, None),
        ('SEV-SNP report verify', snp, snp / p384, 0.85),
        ('TDX quote verify', tdx, tdx / (p256 / 2), 0.7),
    ]
    print('%-26s %12s %8s %8s' % ('one core, warm caches', 'per second',
                                  'ratio', 'target'))
    for name, value, ratio, target in rows:
        print('%-26s %12.0f %8s %8s' % (
            name, value, '' if ratio is None else '%.2f' % ratio,
            '' if target is None else '>= %.2f' % target))


if __name__ == '__main__':
    main()
