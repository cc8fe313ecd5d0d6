"""Skip these tests where Nova is not installed (tox -e functional-nova)."""

import unittest

try:
    import nova  # noqa: F401
except ImportError:
    raise unittest.SkipTest('nova is not installed: run tox -e '
                            'functional-nova') from None
