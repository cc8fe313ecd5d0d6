"""A simulated configfs-tsm report tree, driven by a simulated attester.

It behaves like the kernel's ``/sys/kernel/config/tsm/report`` for a
guest that uses plain file operations: ``mkdir`` a report directory and
the attributes appear (``provider`` = ``sev_guest``, ``generation`` = 0,
empty ``inblob``); every write to ``inblob`` increments ``generation`` and
produces ``outblob`` (a report signed by the attester over the 64 bytes
written) and ``auxblob`` (the GHCB certificate table: VCEK, ASK, ARK in
DER). ``outblob`` and ``auxblob`` are written before ``generation``, so a
reader that saw the new generation reads the new report.

A thread polls the tree (configfs has no inotify either). With
``concurrent_writer`` it plays another process that writes every report
directory's ``inblob`` right after the guest: the guest must notice the
generation moved and refuse the report.
"""

import os
import threading
import typing

from cryptography.hazmat.primitives import serialization
from cryptography import x509

from buckypaper_os.enclaivelet import certtable
from buckypaper_os.simulated_tee import attester as attester_mod

POLL = 0.002


def _der(pem: bytes) -> typing.List[bytes]:
    return [c.public_bytes(serialization.Encoding.DER)
            for c in x509.load_pem_x509_certificates(pem)]


def _write(path: str, data: bytes) -> None:
    temporary = path + '.tmp'
    with open(temporary, 'wb') as f:
        f.write(data)
    os.replace(temporary, path)


class SimulatedTsm:
    """The tree at ``root``, served by a thread between start and stop."""

    def __init__(self, root: str,
                 attester: attester_mod.SimulatedAttester,
                 concurrent_writer: bool = False) -> None:
        self.root = root
        self.attester = attester
        self.concurrent_writer = concurrent_writer
        self.reports = 0
        self._seen: typing.Dict[str, tuple] = {}
        self._stop = threading.Event()
        self._thread: typing.Optional[threading.Thread] = None
        os.makedirs(root, exist_ok=True)
        vcek, chain = attester.certificates()
        ask, ark = _der(chain)
        self.auxblob = certtable.encode([
            (certtable.VCEK, _der(vcek)[0]), (certtable.ASK, ask),
            (certtable.ARK, ark)])

    def start(self) -> 'SimulatedTsm':
        self._thread = threading.Thread(target=self._serve, daemon=True,
                                        name='simulated-tsm')
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join()

    def __enter__(self) -> 'SimulatedTsm':
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()

    def _serve(self) -> None:
        while not self._stop.wait(POLL):
            try:
                names = os.listdir(self.root)
            except OSError:
                continue
            for name in names:
                try:
                    self._step(os.path.join(self.root, name))
                except OSError:  # the guest removed it meanwhile
                    self._seen.pop(os.path.join(self.root, name), None)

    def _step(self, directory: str) -> None:
        if not os.path.isdir(directory):
            return
        inblob = os.path.join(directory, 'inblob')
        if directory not in self._seen:
            _write(inblob, b'')
            _write(os.path.join(directory, 'provider'), b'sev_guest\n')
            _write(os.path.join(directory, 'generation'), b'0\n')
            self._seen[directory] = self._state(inblob)
            return
        state = self._state(inblob)
        if state is None or state == self._seen[directory]:
            return
        self._seen[directory] = state
        if not state[2]:  # the truncation of an open('wb'), not a write
            return
        self._generate(directory, state[2])
        if self.concurrent_writer:
            other = os.urandom(64)
            with open(inblob, 'wb') as f:
                f.write(other)
            self._seen[directory] = self._state(inblob)
            self._generate(directory, other)

    @staticmethod
    def _state(inblob: str) -> typing.Optional[tuple]:
        """(mtime, inode, content) of ``inblob``; None while it changes.

        A write updates the time before the data: a stat taken before a
        read that saw the new data would make one write look like two.
        """
        before = os.stat(inblob)
        with open(inblob, 'rb') as f:
            data = f.read()
        after = os.stat(inblob)
        if (before.st_mtime_ns, before.st_ino) != (after.st_mtime_ns,
                                                   after.st_ino):
            return None
        return after.st_mtime_ns, after.st_ino, data

    def _generate(self, directory: str, data: bytes) -> None:
        generation = os.path.join(directory, 'generation')
        with open(generation, 'rb') as f:
            count = int(f.read().strip() or 0)
        if len(data) == 64:
            _write(os.path.join(directory, 'outblob'),
                   self.attester.report(data))
            _write(os.path.join(directory, 'auxblob'), self.auxblob)
            self.reports += 1
        else:  # the kernel refuses such a write; nothing to report
            return
        _write(generation, b'%d\n' % (count + 1))
