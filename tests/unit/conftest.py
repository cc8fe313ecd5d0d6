"""Fixtures shared by the unit tests.

Simulated PKIs are made once per session (RSA-4096 keys take a second each).
"""

import pytest

from buckypaper_os.simulated_tee import pki as pki_mod


@pytest.fixture(scope='session')
def pki() -> pki_mod.SimulatedPki:
    return pki_mod.SimulatedPki.generate()


@pytest.fixture(scope='session')
def pki_dir(pki, tmp_path_factory) -> str:
    """``pki`` saved in a directory (tests must not change it)."""
    directory = str(tmp_path_factory.mktemp('sim') / 'pki')
    pki.save(directory)
    return directory
