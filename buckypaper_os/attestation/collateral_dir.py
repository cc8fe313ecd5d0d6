"""A directory of collateral in the layout of the test vectors.

SNP: ``vcek.pem`` or ``vlek.pem``, ``cert_chain.pem``, optionally ``crl.der``
or ``crl.pem``. TDX: Intel PCS v4 responses (``tcb_info.json``,
``qe_identity.json``, their issuer chains, ``pck_crl.der``,
``pck_crl_issuer_chain.pem``, ``root_ca_crl.der``).
"""

import os
import typing

from buckypaper_os.attestation import errors

#: Collateral files are small; anything larger is refused unread.
MAX_FILE_SIZE = 1 << 20


class CollateralDir:
    """Read-only access to the files of one collateral directory."""

    def __init__(self, path: str) -> None:
        if not os.path.isdir(path):
            raise errors.EvidenceError(
                'collateral %s is not a directory' % path)
        self.path = path

    def read(self, name: str) -> typing.Optional[bytes]:
        """The bytes of ``name``, or None when the file is absent."""
        path = os.path.join(self.path, name)
        try:
            with open(path, 'rb', buffering=0) as f:
                size = os.fstat(f.fileno()).st_size
                data = f.read(min(size, MAX_FILE_SIZE) + 1)
        except FileNotFoundError:
            return None
        except OSError as exc:
            raise errors.EvidenceError(
                'cannot read collateral %s: %s' % (name, exc.strerror)) \
                from None
        if len(data) > MAX_FILE_SIZE:
            raise errors.EvidenceError(
                'collateral %s is larger than %d bytes'
                % (name, MAX_FILE_SIZE))
        return data


class MemoryCollateral:
    """Collateral held in memory, e.g. received over RPC."""

    def __init__(self, files: typing.Mapping[str, bytes]) -> None:
        self._files = dict(files)

    def read(self, name: str) -> typing.Optional[bytes]:
        """The bytes of ``name``, or None when absent."""
        return self._files.get(name)
