"""Key-encryption keys from files, and the project DEKs they wrap.

``[buckypaper_vault] kek_files`` lists KEK files, oldest first; the last
one is current. A KEK file holds 32 random bytes, raw or as base64 text.
A KEK is named by a digest of its bytes, so files may be renamed. New
DEKs are wrapped with the current KEK; DEKs wrapped by an older listed KEK
still open, and :meth:`Keyring.rotate` re-wraps them all to the current
one, after which the old files can be removed from the list.
"""

import base64
import hashlib
import typing

import sqlalchemy as sa

from buckypaper_os.barbican_plugin import db
from buckypaper_os.barbican_plugin import envelope


class KeyringError(Exception):
    """A missing or unusable KEK (the message never quotes key bytes)."""


def kek_id(kek: bytes) -> str:
    """The public name of a KEK: 16 hex digits of a labelled digest."""
    return hashlib.sha256(b'buckypaper-vault-kek-id\0' + kek).hexdigest()[
        :16]


def read_kek(path: str) -> bytes:
    """The 32-byte KEK in ``path`` (raw bytes or base64 text)."""
    try:
        with open(path, 'rb') as f:
            data = f.read(4096)
    except OSError as exc:
        raise KeyringError('cannot read KEK file %s: %s'
                           % (path, exc.strerror)) from None
    if len(data) != envelope.KEY_SIZE:
        try:
            data = base64.b64decode(data.strip(), validate=True)
        except ValueError:
            data = b''
    if len(data) != envelope.KEY_SIZE:
        raise KeyringError('KEK file %s must hold %d raw bytes or their '
                           'base64' % (path, envelope.KEY_SIZE))
    return data


class Keyring:
    """The KEKs of the configuration and the DEKs of the plugin database."""

    def __init__(self, kek_files: typing.Sequence[str],
                 engine: sa.engine.Engine) -> None:
        if not kek_files:
            raise KeyringError('[buckypaper_vault] kek_files is empty')
        keks = [read_kek(path) for path in kek_files]
        self._keks = {kek_id(kek): kek for kek in keks}
        self.current_id = kek_id(keks[-1])
        self.engine = engine

    def _kek(self, identifier: str) -> bytes:
        kek = self._keks.get(identifier)
        if kek is None:
            raise KeyringError('DEK is wrapped by KEK %s, which is not in '
                               'kek_files' % identifier)
        return kek

    def project_dek(self, project_id: str) -> bytes:
        """The DEK of ``project_id``, made and stored wrapped if new."""
        table = db.PROJECT_KEYS
        query = sa.select(table).where(table.c.project_id == project_id)
        with self.engine.connect() as conn:
            row = conn.execute(query).first()
        if row is None:
            dek = envelope.new_key()
            wrapped = envelope.wrap_dek(self._kek(self.current_id),
                                        self.current_id, project_id, dek)
            try:
                with self.engine.begin() as conn:
                    conn.execute(table.insert().values(
                        project_id=project_id, kek_id=self.current_id,
                        wrapped_dek=wrapped, updated_at=db.now()))
                return dek
            except sa.exc.IntegrityError:
                # Another worker created it first: use theirs.
                with self.engine.connect() as conn:
                    row = conn.execute(query).one()
        return self.unwrap(project_id, row.kek_id, row.wrapped_dek)

    def unwrap(self, project_id: str, kek: str, wrapped: bytes) -> bytes:
        """The DEK of ``project_id`` from its stored row's values."""
        return envelope.unwrap_dek(self._kek(kek), kek, project_id,
                                   wrapped)

    def rotate(self) -> typing.Tuple[int, int]:
        """Re-wrap every DEK to the current KEK; (re-wrapped, total)."""
        table = db.PROJECT_KEYS
        current = self._kek(self.current_id)
        rewrapped = total = 0
        with self.engine.begin() as conn:
            for row in conn.execute(sa.select(table)).all():
                total += 1
                if row.kek_id == self.current_id:
                    continue
                dek = envelope.unwrap_dek(self._kek(row.kek_id), row.kek_id,
                                          row.project_id, row.wrapped_dek)
                conn.execute(table.update().where(
                    table.c.project_id == row.project_id).where(
                    table.c.kek_id == row.kek_id).values(
                    kek_id=self.current_id, updated_at=db.now(),
                    wrapped_dek=envelope.wrap_dek(
                        current, self.current_id, row.project_id, dek)))
                rewrapped += 1
        return rewrapped, total

    def kek_usage(self) -> typing.Dict[str, int]:
        """How many DEKs each KEK wraps."""
        table = db.PROJECT_KEYS
        query = sa.select(table.c.kek_id, sa.func.count()).group_by(
            table.c.kek_id)
        with self.engine.connect() as conn:
            return {kek: count for kek, count in conn.execute(query)}
