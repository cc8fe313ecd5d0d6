"""The key-leak scan: no plaintext key in files or captured traffic.

A key counts as leaked if its raw bytes, its hex (either case) or its
base64 (standard, URL-safe, unpadded) appear anywhere in the haystacks:
every database file and log under a deployment's root, and the AMQP
frames a :class:`~tests.functional.tap.Tap` recorded.
"""

import base64
import os
import typing

#: Files under a deployment's root that are searched (SQLite's journal
#: and write-ahead log included).
SUFFIXES = ('.sqlite', '.sqlite-journal', '.sqlite-wal', '.log')


def forms(key: bytes) -> typing.List[bytes]:
    """Every encoding of ``key`` the scan looks for."""
    return [key, key.hex().encode(), key.hex().upper().encode(),
            base64.b64encode(key), base64.urlsafe_b64encode(key),
            base64.b64encode(key).rstrip(b'=')]


def haystacks(root: str, frames: bytes) -> typing.Dict[str, bytes]:
    """The database files and logs under ``root``, and ``frames``."""
    found = {'rabbitmq frames': frames}
    for folder, _, names in os.walk(root):
        for name in names:
            if name.endswith(SUFFIXES):
                path = os.path.join(folder, name)
                with open(path, 'rb') as f:
                    found[os.path.relpath(path, root)] = f.read()
    return found


def find(keys: typing.Iterable[bytes],
         stacks: typing.Mapping[str, bytes]) -> typing.List[str]:
    """Where any of ``keys`` shows in ``stacks``: ``"name: key #i"``."""
    leaks = []
    for index, key in enumerate(keys):
        for form in forms(key):
            leaks += ['%s: key #%d' % (name, index)
                      for name, data in stacks.items() if form in data]
    return leaks
