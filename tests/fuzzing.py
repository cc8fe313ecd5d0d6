"""Shared settings of the property-based (fuzz) tests.

``FUZZ_EXAMPLES`` sets the number of examples per test (``tox -e fuzz``
raises it for the nightly run).
"""

import os

from hypothesis import HealthCheck
from hypothesis import settings
from hypothesis import strategies as st

from buckypaper_os.attestation.tdx import abi as tdx_abi

SETTINGS = settings(max_examples=int(os.environ.get('FUZZ_EXAMPLES', 300)),
                    deadline=None,
                    suppress_health_check=[HealthCheck.too_slow])

#: Bytes of a v4 TDX quote that are signed or are signatures: header and
#: body, quote signature and attestation key, certification data header,
#: QE report and its signature. Past them, PEM text may change without
#: changing the certificates it encodes.
TDX_SIGNED_PREFIX = (tdx_abi.HEADER_SIZE + tdx_abi.TD10_BODY_SIZE + 4 + 64
                     + 64 + 6 + tdx_abi.QE_REPORT_SIZE + 64)

#: JSON-like values: what a JSON document or an RPC message may carry.
JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(),
    lambda children: st.lists(children, max_size=4) | st.dictionaries(
        st.text(max_size=8), children, max_size=4),
    max_leaves=12)


def settings_for(ci_examples: int) -> settings:
    """:data:`SETTINGS` for a slow test: ``ci_examples`` in CI.

    Under ``FUZZ_EXAMPLES`` (the nightly run) it keeps the same share of
    them as against the default 300, so slow tests stay proportionate.
    """
    nightly = os.environ.get('FUZZ_EXAMPLES')
    return settings(SETTINGS, max_examples=ci_examples if nightly is None
                    else max(ci_examples, int(nightly) * ci_examples // 300))
