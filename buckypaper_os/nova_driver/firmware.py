"""The operator's catalog of measured stateless firmware.

A JSON or YAML file (``[buckypaper_compute] firmware_catalog``)::

    firmware:
      - name: ovmf-amdsev-2026.08
        path: /usr/share/ovmf/OVMF.amdsev.fd
        sha384: 5c1e...            # 96 hex digits
        tees: [sev-snp]
      - name: ovmf-inteltdx-2026.08
        path: /usr/share/ovmf/OVMF.inteltdx.ms.fd
        sha384: 9a0b...
        tees: [tdx]

Guests boot only firmware listed here, and only after the file on disk
hashed to the listed SHA-384: the expected launch measurement is computed
from the same bytes.
"""

import dataclasses
import hashlib
import hmac
import json
import os
import typing

import yaml

from buckypaper_os import binding


class CatalogError(ValueError):
    """The catalog, or a firmware image, is not usable; says why."""


@dataclasses.dataclass(frozen=True)
class Firmware:
    """One catalog entry."""

    name: str
    path: str
    sha384: str
    tees: typing.Tuple[str, ...]


def _entry(item, where) -> Firmware:
    if not isinstance(item, dict):
        raise CatalogError('%s: an entry must be a mapping' % where)
    unknown = sorted(set(item) - {'name', 'path', 'sha384', 'tees',
                                  'description'})
    if unknown:
        raise CatalogError('%s: unknown keys %s' % (where, ', '.join(unknown)))
    name, path, digest = item.get('name'), item.get('path'), \
        item.get('sha384')
    tees = item.get('tees')
    if not isinstance(name, str) or not name:
        raise CatalogError('%s: name must be a non-empty string' % where)
    if not isinstance(path, str) or not os.path.isabs(path):
        raise CatalogError('%s (%s): path must be absolute' % (where, name))
    try:
        if not isinstance(digest, str) or len(bytes.fromhex(digest)) != 48:
            raise ValueError
    except ValueError:
        raise CatalogError('%s (%s): sha384 must be 96 hex digits'
                           % (where, name)) from None
    if (not isinstance(tees, list) or not tees
            or any(tee not in binding.TEES for tee in tees)):
        raise CatalogError('%s (%s): tees must be a list of %s'
                           % (where, name, ', '.join(binding.TEES)))
    return Firmware(name, path, digest.lower(), tuple(tees))


class Catalog:
    """Firmware entries by name, loaded from a catalog file."""

    def __init__(self, entries: typing.Iterable[Firmware]) -> None:
        self._entries: typing.Dict[str, Firmware] = {}
        for entry in entries:
            if entry.name in self._entries:
                raise CatalogError('firmware %s is listed twice'
                                   % entry.name)
            self._entries[entry.name] = entry

    @classmethod
    def load(cls, path: str) -> 'Catalog':
        try:
            with open(path, encoding='utf-8') as f:
                text = f.read()
        except OSError as exc:
            raise CatalogError('cannot read firmware catalog %s: %s'
                               % (path, exc.strerror)) from None
        try:
            if path.endswith('.json'):
                data = json.loads(text)
            else:
                data = yaml.safe_load(text)
        except (ValueError, yaml.YAMLError) as exc:
            raise CatalogError('firmware catalog %s is not valid JSON/YAML: '
                               '%s' % (path, ' '.join(str(exc).split())[:200])
                               ) from None
        if not isinstance(data, dict) or not isinstance(
                data.get('firmware'), list):
            raise CatalogError('firmware catalog %s has no "firmware" list'
                               % path)
        return cls(_entry(item, '%s entry %d' % (path, i))
                   for i, item in enumerate(data['firmware']))

    def names(self) -> typing.List[str]:
        return sorted(self._entries)

    def entries(self) -> typing.List[Firmware]:
        """Every entry, by name."""
        return [self._entries[name] for name in self.names()]

    def select(self, tee: str, name: typing.Optional[str] = None,
               default: typing.Optional[str] = None) -> Firmware:
        """The entry for ``tee``: ``name``, else ``default``, else first."""
        wanted = name or default
        if wanted:
            entry = self._entries.get(wanted)
            if entry is None:
                raise CatalogError('firmware %r is not in the catalog '
                                   '(known: %s)' % (wanted, ', '.join(
                                       self.names()) or 'none'))
            if tee not in entry.tees:
                raise CatalogError('firmware %s does not support %s (only '
                                   '%s)' % (wanted, tee,
                                            ', '.join(entry.tees)))
            return entry
        for entry in self._entries.values():
            if tee in entry.tees:
                return entry
        raise CatalogError('the firmware catalog has no firmware for %s'
                           % tee)

    def verify(self, entry: Firmware) -> bytes:
        """The image's bytes after checking them against the SHA-384.

        The bytes returned are the bytes hashed (one read); hashing a 4 MiB
        image takes milliseconds, so it is done at every launch.
        """
        try:
            with open(entry.path, 'rb') as f:
                image = f.read()
        except OSError as exc:
            raise CatalogError('cannot read firmware %s at %s: %s' % (
                entry.name, entry.path, exc.strerror)) from None
        digest = hashlib.sha384(image).hexdigest()
        if not hmac.compare_digest(digest, entry.sha384):
            raise CatalogError('firmware %s at %s has SHA-384 %s, the catalog '
                               'lists %s' % (entry.name, entry.path, digest,
                                             entry.sha384))
        return image
