"""Trust anchors for SEV-SNP: the ARK, ASK and ASVK of each product.

The default store holds only AMD's pinned certificates (:mod:`..roots`).
Another store (a test PKI, a simulated TEE) is trusted only where it is
passed explicitly.
"""

import dataclasses
import functools
import typing

from cryptography.hazmat.primitives import serialization
from cryptography import x509

from buckypaper_os.attestation import roots
from buckypaper_os.attestation.snp import abi


@dataclasses.dataclass(frozen=True)
class Anchors:
    """The ARK, ASK (issues VCEKs) and ASVK (issues VLEKs) of a product."""

    ark: x509.Certificate
    ask: x509.Certificate
    asvk: typing.Optional[x509.Certificate] = None

    def issuer(self, kind: str) -> typing.Optional[x509.Certificate]:
        """The intermediate that issues ``kind`` ("vcek" or "vlek")."""
        return self.asvk if kind == 'vlek' else self.ask

    @functools.cached_property
    def der(self) -> typing.Dict[str, bytes]:
        """DER of each anchor by role ("ark", "vcek" / "vlek" issuer)."""
        roles = {'ark': self.ark, 'vcek': self.ask, 'vlek': self.asvk}
        return {role: cert.public_bytes(serialization.Encoding.DER)
                for role, cert in roles.items() if cert is not None}


class TrustStore:
    """Anchors per product name ("Milan", "Genoa", "Turin")."""

    def __init__(self, anchors: typing.Mapping[str, Anchors]) -> None:
        self._anchors = dict(anchors)

    def get(self, product: typing.Optional[str]) -> typing.Optional[Anchors]:
        """The anchors of ``product``, or None if it has none."""
        return self._anchors.get(product)


def pinned() -> TrustStore:
    """AMD's production ARK / ASK / ASVK for Milan, Genoa and Turin."""
    return TrustStore({p: Anchors(roots.amd('ark', p), roots.amd('ask', p),
                                  roots.amd('asvk', p))
                       for p in abi.PRODUCTS})
