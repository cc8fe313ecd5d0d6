"""Access to the shared test vectors (real evidence from real platforms).

The directory is ``$BUCKYPAPER_VECTORS`` or ``../shared/vectors`` beside the
project root. Tests that need it skip with a clear message when it is absent.
"""

import datetime
import json
import os

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
VECTORS = os.environ.get('BUCKYPAPER_VECTORS') or os.path.join(
    ROOT, '..', 'shared', 'vectors')

needs_vectors = pytest.mark.skipif(
    not os.path.isdir(VECTORS),
    reason='test vectors not found at %s (set BUCKYPAPER_VECTORS)' % VECTORS)


def case_names(prefix: str = '') -> list:
    """Names of the vector cases whose name starts with ``prefix``."""
    if not os.path.isdir(VECTORS):
        return []
    return sorted(name for name in os.listdir(VECTORS)
                  if name.startswith(prefix) and os.path.isfile(
                      os.path.join(VECTORS, name, 'expected.json')))


class Case:
    """One vector case: its directory, evidence and expectations."""

    def __init__(self, name: str) -> None:
        self.name = name
        self.path = os.path.join(VECTORS, name)
        with open(os.path.join(self.path, 'expected.json')) as f:
            self.expected = json.load(f)

    def read(self, filename: str) -> bytes:
        with open(os.path.join(self.path, filename), 'rb') as f:
            return f.read()

    @property
    def evidence(self) -> bytes:
        return self.read('evidence.bin')

    @property
    def cert_files(self) -> list:
        """Paths of the SNP certificates of the case (signing key, chain)."""
        names = ('vcek.pem', 'vlek.pem', 'cert_chain.pem')
        return [os.path.join(self.path, n) for n in names
                if os.path.exists(os.path.join(self.path, n))]

    @property
    def certs(self) -> list:
        result = []
        for path in self.cert_files:
            with open(path, 'rb') as f:
                result.append(f.read())
        return result

    @property
    def collateral(self):
        """The case directory when it holds TDX collateral, else None."""
        if os.path.exists(os.path.join(self.path, 'tcb_info.json')):
            return self.path
        return None

    def collateral_files(self):
        """The TDX collateral as a dict of file bytes (for RPC), or None."""
        if not self.collateral:
            return None
        from buckypaper_os.attestation.tdx import collateral
        return {name: self.read(name) for name in collateral.FILES}

    def check(self, got: dict) -> None:
        """Assert that a result (as a dict) is exactly the expected one."""
        want = self.expected
        assert got['tee'] == want['tee']
        assert got['verified'] is want['verified'], got['reasons']
        assert got['claims'] == want['claims']
        assert got['tcb_status'] == want.get('tcb_status')
        if want.get('expect_status') is not None:
            assert got['status'] == want['expect_status'], got['reasons']
        if not got['verified'] or got['status'] == 'contraindicated':
            assert got['reasons'], 'a refusal must say why'

    @property
    def at(self):
        value = self.expected.get('at')
        if value is None:
            return None
        return datetime.datetime.fromisoformat(value.replace('Z', '+00:00'))
