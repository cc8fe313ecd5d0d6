"""Test-wide settings and fixtures.

Simulated PKIs are made once per session (RSA-4096 keys take a second
each). Hypothesis runs derandomized by default, so CI is repeatable; the
``nightly`` profile (``HYPOTHESIS_PROFILE=nightly``, ``tox -e fuzz``)
explores freshly each run with many more examples.
"""

import os

from hypothesis import settings
import pytest

from buckypaper_os.simulated_tee import pki as pki_mod

settings.register_profile('ci', derandomize=True, deadline=None,
                          print_blob=True)
settings.register_profile('nightly', deadline=None, max_examples=20000,
                          print_blob=True)
settings.load_profile(os.environ.get('HYPOTHESIS_PROFILE', 'ci'))


@pytest.fixture(scope='session')
def pki() -> pki_mod.SimulatedPki:
    return pki_mod.SimulatedPki.generate()


@pytest.fixture(scope='session')
def pki_dir(pki, tmp_path_factory) -> str:
    """``pki`` saved in a directory (tests must not change it)."""
    directory = str(tmp_path_factory.mktemp('sim') / 'pki')
    pki.save(directory)
    return directory
