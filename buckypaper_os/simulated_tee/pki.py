"""A simulated AMD PKI: ARK -> ASK -> VCEK of one product, made locally.

Like AMD's, the ARK and ASK are RSA-4096 and sign with RSASSA-PSS SHA-384,
and the VCEK is an ECDSA P-384 key certified with AMD's extensions. Every
subject says SIMULATED. A PKI persists to a directory::

    ark.pem  ask.pem          the trust anchors: all a verifier needs
    vcek.pem                  the VCEK of the simulated chip at its TCB
    cert_chain.pem            ASK then ARK, as AMD KDS serves it
    ark.key  ask.key  vcek.key    PKCS#8 private keys, mode 0600

One VCEK key signs for every chip and TCB the PKI certifies (a real chip
derives one per TCB).
"""

import datetime
import os
import re
import typing

from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives import serialization
from cryptography import x509
from cryptography.x509.oid import NameOID

from buckypaper_os.attestation.snp import abi
from buckypaper_os.attestation.snp import certs
from buckypaper_os.attestation.snp import trust
from buckypaper_os.attestation import x509util
from buckypaper_os.simulated_tee import certificates
from buckypaper_os.simulated_tee import report

ORGANIZATION = 'buckypaper-os SIMULATED TEE (not a real AMD root)'
#: The files a verifier needs to trust this PKI (no private keys).
PUBLIC_FILES = ('ark.pem', 'ask.pem')
_ARK_CN = re.compile(r'ARK-(\w+)-SIMULATED\Z')
_VALIDITY = datetime.timedelta(days=25 * 365)
_KEY_MODE = 0o600


class PkiError(Exception):
    """A PKI directory that cannot be created or loaded."""


class SimulatedPki:
    """An ARK, ASK and VCEK with their private keys.

    Use :meth:`generate`, :meth:`load` or :meth:`open`.
    """

    def __init__(self, *, ark_key: rsa.RSAPrivateKey,
                 ask_key: rsa.RSAPrivateKey,
                 vcek_key: ec.EllipticCurvePrivateKey,
                 ark: x509.Certificate, ask: x509.Certificate,
                 vcek: x509.Certificate) -> None:
        signer = certs.signing_cert(vcek)
        if signer.product is None or signer.hwid is None:
            raise PkiError('the VCEK names no product or hwID')
        self._ark_key, self._ask_key = ark_key, ask_key
        self.vcek_key = vcek_key
        self.ark, self.ask = ark, ask
        self.product: str = signer.product
        #: CHIP_ID as a report carries it (the hwID, zero-padded to 64).
        self.chip_id: bytes = signer.hwid.ljust(64, b'\0')
        self.tcb: typing.Dict[str, int] = dict(signer.tcb)
        self._vceks = {self._vcek_id(self.chip_id, self.tcb): vcek}

    @classmethod
    def generate(cls, product: str = abi.MILAN, *,
                 chip_id: typing.Optional[bytes] = None,
                 tcb: typing.Optional[typing.Mapping[str, int]] = None
                 ) -> 'SimulatedPki':
        """A new PKI for ``product``, in memory.

        ``chip_id`` defaults to random (8 bytes and zeros on Turin) and
        ``tcb`` to :data:`report.DEFAULT_TCB`.
        """
        if product not in abi.PRODUCTS:
            raise PkiError('unknown product %r (known: %s)'
                           % (product, ', '.join(abi.PRODUCTS)))
        if chip_id is None:
            chip_id = certificates.hwid(product, os.urandom(64)).ljust(
                64, b'\0')
        ark_key, ask_key = (rsa.generate_private_key(65537, 4096)
                            for _ in range(2))
        start = datetime.datetime.now(datetime.timezone.utc).replace(
            microsecond=0) - datetime.timedelta(days=1)
        ark_name = _name('ARK-%s-SIMULATED' % product)
        ark = certificates.certificate(
            ark_name, ark_key.public_key(), ark_name, ark_key,
            serial=x509.random_serial_number(), not_before=start,
            not_after=start + _VALIDITY, ca=True)
        ask = certificates.certificate(
            _name('SEV-%s-SIMULATED' % product), ask_key.public_key(),
            ark_name, ark_key, serial=x509.random_serial_number(),
            not_before=start, not_after=start + _VALIDITY, ca=True)
        vcek_key = ec.generate_private_key(ec.SECP384R1())
        vcek = _issue_vcek(ask, ask_key, vcek_key, product, chip_id,
                           report.DEFAULT_TCB[product] if tcb is None
                           else tcb)
        return cls(ark_key=ark_key, ask_key=ask_key, vcek_key=vcek_key,
                   ark=ark, ask=ask, vcek=vcek)

    @classmethod
    def load(cls, directory: str) -> 'SimulatedPki':
        """The PKI saved in ``directory``; :class:`PkiError` if unusable."""
        ark, ask, vcek = (_load_cert(directory, name)
                          for name in ('ark.pem', 'ask.pem', 'vcek.pem'))
        keys = [_load_key(directory, name)
                for name in ('ark.key', 'ask.key', 'vcek.key')]
        for name, cert, key in zip(('ark', 'ask', 'vcek'), (ark, ask, vcek),
                                   keys):
            if cert.public_key() != key.public_key():
                raise PkiError('%s.key in %s is not the key of %s.pem'
                               % (name, directory, name))
        if not isinstance(keys[2], ec.EllipticCurvePrivateKey):
            raise PkiError('vcek.key in %s is not an EC key' % directory)
        _check_chain(directory, ark, ask)
        if not x509util.signed_by(vcek, ask):
            raise PkiError('vcek.pem in %s is not issued by ask.pem'
                           % directory)
        return cls(ark_key=keys[0], ask_key=keys[1], vcek_key=keys[2],
                   ark=ark, ask=ask, vcek=vcek)

    @classmethod
    def open(cls, directory: str, product: typing.Optional[str] = None
             ) -> 'SimulatedPki':
        """The PKI in ``directory``, generated and saved if there is none.

        ``product`` (default Milan) is that of a new PKI; an existing one
        of another product is a :class:`PkiError`.
        """
        if os.path.exists(os.path.join(directory, 'ark.pem')):
            pki = cls.load(directory)
            if product is not None and pki.product != product:
                raise PkiError('%s holds a %s PKI, not %s'
                               % (directory, pki.product, product))
            return pki
        pki = cls.generate(product or abi.MILAN)
        pki.save(directory)
        return pki

    def save(self, directory: str) -> None:
        """Write the PKI's files into ``directory`` (created 0700).

        Existing files are never overwritten (:class:`PkiError`).
        """
        pkcs8 = serialization.PrivateFormat.PKCS8
        files = [(name, 0o644, data)
                 for name, data in self.public_trust_files().items()]
        files += [('vcek.pem', 0o644, certificates.pem(self.vcek())),
                  ('cert_chain.pem', 0o644, self.cert_chain())]
        files += [(name, _KEY_MODE, key.private_bytes(
            serialization.Encoding.PEM, pkcs8, serialization.NoEncryption()))
            for name, key in (('ark.key', self._ark_key),
                              ('ask.key', self._ask_key),
                              ('vcek.key', self.vcek_key))]
        try:
            os.makedirs(directory, mode=0o700, exist_ok=True)
            for name, mode, data in files:
                fd = os.open(os.path.join(directory, name),
                             os.O_WRONLY | os.O_CREAT | os.O_EXCL, mode)
                with os.fdopen(fd, 'wb') as f:
                    f.write(data)
        except OSError as exc:
            raise PkiError('cannot save the PKI in %s: %s'
                           % (directory, exc.strerror or exc)) from None

    def vcek(self, chip_id: typing.Optional[bytes] = None,
             tcb: typing.Optional[typing.Mapping[str, int]] = None
             ) -> x509.Certificate:
        """The VCEK of ``chip_id`` at ``tcb`` (default: the PKI's own).

        Issued by the ASK on first use, as KDS would serve it.
        """
        chip_id = self.chip_id if chip_id is None else chip_id
        tcb = self.tcb if tcb is None else tcb
        key = self._vcek_id(chip_id, tcb)
        if key not in self._vceks:
            self._vceks[key] = _issue_vcek(
                self.ask, self._ask_key, self.vcek_key, self.product,
                chip_id, tcb)
        return self._vceks[key]

    def cert_chain(self) -> bytes:
        """The KDS ``cert_chain``: ASK then ARK, PEM."""
        return certificates.pem(self.ask, self.ark)

    def crl(self, revoked: typing.Sequence[x509.Certificate] = (),
            lifetime: datetime.timedelta = datetime.timedelta(days=7)
            ) -> bytes:
        """A KDS-like CRL (DER) signed by the ARK, revoking ``revoked``."""
        now = datetime.datetime.now(datetime.timezone.utc).replace(
            microsecond=0)
        builder = (x509.CertificateRevocationListBuilder()
                   .issuer_name(self.ark.subject)
                   .last_update(now - datetime.timedelta(hours=1))
                   .next_update(now + lifetime))
        for cert in revoked:
            builder = builder.add_revoked_certificate(
                x509.RevokedCertificateBuilder()
                .serial_number(cert.serial_number)
                .revocation_date(now - datetime.timedelta(hours=1)).build())
        return builder.sign(self._ark_key, hashes.SHA384(),
                            rsa_padding=certificates.PSS).public_bytes(
            serialization.Encoding.DER)

    def public_trust_files(self) -> typing.Dict[str, bytes]:
        """``ark.pem`` and ``ask.pem``: what :func:`load_trust` reads."""
        return {'ark.pem': certificates.pem(self.ark),
                'ask.pem': certificates.pem(self.ask)}

    def trust_store(self) -> trust.TrustStore:
        """A trust store holding only this PKI's anchors."""
        return trust.TrustStore({self.product: trust.Anchors(self.ark,
                                                             self.ask)})

    @staticmethod
    def _vcek_id(chip_id: bytes, tcb: typing.Mapping[str, int]) -> tuple:
        return bytes(chip_id), tuple(sorted(tcb.items()))


def load_trust(directory: str) -> trust.TrustStore:
    """The trust store of the simulated PKI whose public files are here.

    Reads only ``ark.pem`` and ``ask.pem`` (:data:`PUBLIC_FILES`); the
    product comes from the ARK's name. :class:`PkiError` if they are not a
    simulated ARK and the ASK it signed.
    """
    ark, ask = (_load_cert(directory, name) for name in PUBLIC_FILES)
    _check_chain(directory, ark, ask)
    match = _ARK_CN.match(x509util.common_name(ark))
    if not match or match.group(1) not in abi.PRODUCTS:
        raise PkiError('ark.pem in %s is not a simulated ARK (%s)'
                       % (directory, x509util.common_name(ark)))
    return trust.TrustStore({match.group(1): trust.Anchors(ark, ask)})


def _name(common_name: str) -> x509.Name:
    return x509.Name([
        x509.NameAttribute(NameOID.ORGANIZATION_NAME, ORGANIZATION),
        x509.NameAttribute(NameOID.COMMON_NAME, common_name)])


def _issue_vcek(ask: x509.Certificate, ask_key: rsa.RSAPrivateKey,
                vcek_key: ec.EllipticCurvePrivateKey, product: str,
                chip_id: bytes, tcb: typing.Mapping[str, int]
                ) -> x509.Certificate:
    """A VCEK for ``chip_id`` (64 bytes) at ``tcb`` (checked complete)."""
    if len(chip_id) != 64:
        raise PkiError('a CHIP_ID is 64 bytes, not %d' % len(chip_id))
    try:
        tcb = abi.decode_tcb(report.encode_tcb(tcb, product), product)
    except ValueError as exc:
        raise PkiError(str(exc)) from None
    return certificates.certificate(
        _name('SEV-VCEK-SIMULATED'), vcek_key.public_key(), ask.subject,
        ask_key, serial=x509.random_serial_number(),
        not_before=ask.not_valid_before_utc,
        not_after=ask.not_valid_after_utc,
        extensions=certificates.amd_extensions(
            product + '-B0', tcb, hwid=certificates.hwid(product, chip_id)))


def _check_chain(directory: str, ark: x509.Certificate,
                 ask: x509.Certificate) -> None:
    if not (x509util.signed_by(ark, ark) and x509util.signed_by(ask, ark)):
        raise PkiError('ark.pem and ask.pem in %s are not a self-signed ARK '
                       'and the ASK it issued' % directory)


def _read(directory: str, name: str) -> bytes:
    try:
        with open(os.path.join(directory, name), 'rb') as f:
            return f.read()
    except OSError as exc:
        raise PkiError('cannot read %s in %s: %s'
                       % (name, directory, exc.strerror or exc)) from None


def _load_cert(directory: str, name: str) -> x509.Certificate:
    try:
        return x509.load_pem_x509_certificate(_read(directory, name))
    except ValueError:
        raise PkiError('%s in %s is not a PEM certificate'
                       % (name, directory)) from None


def _load_key(directory: str, name: str):
    path = os.path.join(directory, name)
    try:
        mode = os.stat(path).st_mode
    except OSError as exc:
        raise PkiError('cannot read %s in %s: %s'
                       % (name, directory, exc.strerror)) from None
    if mode & 0o077:
        raise PkiError('%s is accessible to other users (mode %o); it must '
                       'be 0600' % (path, mode & 0o777))
    try:
        return serialization.load_pem_private_key(_read(directory, name),
                                                  password=None)
    except (ValueError, TypeError):
        raise PkiError('%s in %s is not an unencrypted PEM private key'
                       % (name, directory)) from None
