"""Every vector case gives exactly its expected.json, via API and CLI."""

import json
import subprocess

import pytest

from buckypaper_os import attestation
from tests import vectors

CASES = vectors.case_names()


@vectors.needs_vectors
@pytest.mark.parametrize('name', CASES)
def test_api(name):
    case = vectors.Case(name)
    result = attestation.verify(case.evidence, certs=case.certs,
                                collateral=case.collateral, at=case.at)
    case.check(result.to_dict())


@vectors.needs_vectors
@pytest.mark.parametrize('name', CASES)
def test_cli(name):
    case = vectors.Case(name)
    argv = ['buckypaper-attest', 'verify', '--evidence',
            case.path + '/evidence.bin', '--tee', case.expected['tee']]
    for path in case.cert_files:
        argv += ['--cert', path]
    if case.collateral:
        argv += ['--collateral', case.collateral]
    if case.expected.get('at'):
        argv += ['--at', case.expected['at']]
    proc = subprocess.run(argv, capture_output=True, text=True, timeout=60)
    assert proc.stderr == ''
    case.check(json.loads(proc.stdout))
    if case.expected.get('expect_exit') is not None:
        assert proc.returncode == case.expected['expect_exit']
