"""Test-wide settings.

Hypothesis runs derandomized by default, so CI is repeatable; the
``nightly`` profile (``HYPOTHESIS_PROFILE=nightly``, ``tox -e fuzz``)
explores freshly each run with many more examples.
"""

import os

from hypothesis import settings

settings.register_profile('ci', derandomize=True, deadline=None,
                          print_blob=True)
settings.register_profile('nightly', deadline=None, max_examples=20000,
                          print_blob=True)
settings.load_profile(os.environ.get('HYPOTHESIS_PROFILE', 'ci'))
