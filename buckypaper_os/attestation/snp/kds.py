"""Where the certificates of a report come from, network-free.

In order of preference:

1. the ``certs`` given by the caller (PEM bundles or DER, any order: the
   VCEK/VLEK and the KDS ``cert_chain``);
2. the collateral files ``vcek.pem`` / ``vlek.pem`` (or ``.der``) and
   ``cert_chain.pem``;
3. an offline copy of AMD KDS in the collateral directory, keyed as the
   KDS URLs are (``https://kdsintf.amd.com/vcek/v1/{product}/{hwid}?
   blSPL=..&teeSPL=..&snpSPL=..&ucodeSPL=..[&fmcSPL=..]``)::

       vcek/v1/{product}/{hwid}/bl{bl}-tee{tee}-snp{snp}-ucode{ucode}.der
       vcek/v1/{product}/{hwid}/fmc{fmc}-bl{bl}-tee{tee}-snp{snp}-ucode{ucode}.der
       vcek/v1/{product}/cert_chain        (ASK then ARK, PEM)
       vcek/v1/{product}/crl               (DER or PEM)
       vlek/v1/{product}/cert_chain        (ASVK then ARK, PEM)
       vlek/v1/{product}/crl

   ``{hwid}`` is lowercase hex of CHIP_ID (its first 8 bytes on Turin), the
   SPLs are decimal and the second form is Turin's. VLEKs are issued to a
   cloud provider, not per chip: give them as ``certs`` or ``vlek.pem``.

The CRL is ``crl.der`` / ``crl.pem`` in the collateral, else the KDS one.
"""

import dataclasses
import functools
import typing

from cryptography.hazmat.primitives import serialization

from buckypaper_os.attestation.snp import abi
from buckypaper_os.attestation.snp import certs as certs_mod
from buckypaper_os.attestation import x509util

#: Collateral files that hold certificates (the rest is revocation data).
CERTIFICATE_FILES = ('vcek.pem', 'vcek.der', 'vlek.pem', 'vlek.der',
                     'cert_chain.pem')


@dataclasses.dataclass(frozen=True)
class Found:
    """The certificates found for one report."""

    signers: typing.Tuple[certs_mod.SigningCert, ...] = ()
    #: DER of the other certificates (ASK / ASVK / ARK, presumably).
    others: typing.Tuple[bytes, ...] = ()

    def signer(self, report: abi.Report
               ) -> typing.Optional[certs_mod.SigningCert]:
        """The VCEK/VLEK meant for ``report``.

        The one of the report's key type and chip if there is one, else the
        first.
        """
        for s in self.signers:
            if s.kind == report.signing_key and (
                    s.kind == 'vlek' or (s.hwid is not None and
                                         report.chip_id.startswith(s.hwid))):
                return s
        return self.signers[0] if self.signers else None


def find(report: abi.Report, certs: typing.Sequence[bytes], collateral,
         product: typing.Optional[str]) -> Found:
    """Certificates for ``report`` from ``certs`` or ``collateral``."""
    found = _split(tuple(certs))
    if not found.signers and collateral is not None:
        found = _split(tuple(
            c for c in map(collateral.read, CERTIFICATE_FILES) if c))
        if not found.signers:
            found = _from_cache(report, collateral, product)
    return found


def find_crl(report: abi.Report, collateral,
             product: typing.Optional[str]) -> typing.Optional[bytes]:
    """The AMD KDS CRL of the report's product, if the collateral has it."""
    if collateral is None:
        return None
    crl = collateral.read('crl.der') or collateral.read('crl.pem')
    if crl is None and product is not None:
        crl = collateral.read('%s/v1/%s/crl' % (report.signing_key, product))
    return crl


@functools.lru_cache(maxsize=1024)
def _split(blobs: typing.Tuple[bytes, ...]) -> Found:
    signers, others = [], []
    for blob in blobs:
        for cert in x509util.load_certificates(blob):
            if certs_mod.is_signing_cert(cert):
                signers.append(certs_mod.signing_cert(cert))
            else:
                others.append(cert.public_bytes(serialization.Encoding.DER))
    return Found(tuple(signers), tuple(others))


def cache_path(product: str, chip_id: bytes, tcb: typing.Mapping[str, int]
               ) -> str:
    """The offline-cache file of a VCEK (see the module docstring)."""
    hwid = chip_id[:8] if product == abi.TURIN else chip_id
    order = ('fmc', 'bl', 'tee', 'snp', 'ucode')
    spl = '-'.join('%s%d' % (k, tcb[k]) for k in order if k in tcb)
    return 'vcek/v1/%s/%s/%s.der' % (product, hwid.hex(), spl)


def _from_cache(report: abi.Report, collateral,
                product: typing.Optional[str]) -> Found:
    if report.signing_key != 'vcek' or not any(report.chip_id):
        return Found()
    for name in (product,) if product else abi.PRODUCTS:
        tcb = abi.decode_tcb(report.reported_tcb, name)
        vcek = collateral.read(cache_path(name, report.chip_id, tcb))
        if vcek:
            chain = collateral.read('vcek/v1/%s/cert_chain' % name)
            return _split((vcek, chain) if chain else (vcek,))
    return Found()
