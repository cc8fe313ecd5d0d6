"""Pinned vendor roots, shipped as package data.

AMD's ARK, ASK and ASVK per product and Intel's SGX Root CA. Verifiers take
trust only from here, never from the evidence or its certificates.
"""

import functools
import importlib.resources

from cryptography import x509


@functools.lru_cache(maxsize=None)
def load(name: str) -> x509.Certificate:
    """The pinned certificate ``name`` (file name without ``.pem``)."""
    data = importlib.resources.files(__name__).joinpath(name + '.pem')
    return x509.load_pem_x509_certificate(data.read_bytes())


def amd(kind: str, product: str) -> x509.Certificate:
    """AMD ``ark``, ``ask`` or ``asvk`` of a product (Milan, Genoa, Turin)."""
    return load('%s-%s' % (kind, product.lower()))


def intel_sgx_root() -> x509.Certificate:
    """Intel SGX Root CA (production, 2018)."""
    return load('intel-sgx-root-ca')
