"""Evidence through configfs-tsm (Linux 6.7+, SNP and TDX guests).

One report, as the kernel's ABI (Documentation/ABI/testing/configfs-tsm)
describes it::

    mkdir  {root}/{name}               the kernel creates the attributes
    read   generation                  g0
    write  inblob                      64 bytes of REPORT_DATA
    read   outblob, auxblob            the report (SNP) or quote (TDX), certs
    read   generation                  must be g0 + 1: any other writer of
                                       this directory since changes it
    rmdir  {root}/{name}

``provider`` names the TEE (``sev_guest``, ``tdx_guest``). The root is
overridable so tests can use a simulated tree
(:mod:`buckypaper_os.simulated_tee.tsm`), whose attributes appear a moment
after the ``mkdir``, hence the short waits below (immediate on configfs).
"""

import errno
import os
import shutil
import time
import typing
import uuid

DEFAULT_ROOT = '/sys/kernel/config/tsm/report'
PROVIDERS = {'sev_guest': 'sev-snp', 'tdx_guest': 'tdx'}
REPORT_DATA_SIZE = 64


class TsmError(Exception):
    """No configfs-tsm, or a report that could not be taken safely."""


class Evidence(typing.NamedTuple):
    tee: str
    report: bytes
    auxblob: bytes


def available(root: str = DEFAULT_ROOT) -> bool:
    """Whether ``root`` is a configfs-tsm report directory."""
    return os.path.isdir(root)


def _read(path: str) -> bytes:
    with open(path, 'rb') as f:
        return f.read()


def _generation(directory: str) -> int:
    try:
        return int(_read(os.path.join(directory, 'generation')).strip())
    except ValueError:
        raise TsmError('unreadable generation in %s' % directory) from None


def _wait(condition: typing.Callable[[], bool], timeout: float,
          what: str) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise TsmError('timed out waiting for %s' % what)
        time.sleep(0.005)


def get_report(report_data: bytes, root: str = DEFAULT_ROOT,
               timeout: float = 10.0) -> Evidence:
    """A report carrying ``report_data``, checked against other writers."""
    if len(report_data) != REPORT_DATA_SIZE:
        raise TsmError('REPORT_DATA must be %d bytes' % REPORT_DATA_SIZE)
    if not available(root):
        raise TsmError('no configfs-tsm at %s' % root)
    directory = os.path.join(root, 'enclaivelet-%s' % uuid.uuid4().hex)
    try:
        os.mkdir(directory)
    except OSError as exc:
        raise TsmError('cannot create %s: %s' % (directory, exc.strerror)
                       ) from None
    try:
        return _take(directory, report_data, timeout)
    except OSError as exc:
        raise TsmError('configfs-tsm: %s' % exc) from None
    finally:
        _remove(directory, root)


def _take(directory: str, report_data: bytes, timeout: float) -> Evidence:
    generation = os.path.join(directory, 'generation')
    _wait(lambda: os.path.exists(generation), timeout,
          'the attributes of %s' % directory)
    provider = _read(os.path.join(directory, 'provider')).decode(
        'ascii', 'replace').strip()
    if provider not in PROVIDERS:
        raise TsmError('unsupported configfs-tsm provider %r' % provider)
    before = _generation(directory)
    with open(os.path.join(directory, 'inblob'), 'wb') as f:
        f.write(report_data)
    _wait(lambda: _generation(directory) != before, timeout,
          'the report of %s' % directory)
    written = _generation(directory)
    report = _read(os.path.join(directory, 'outblob'))
    aux_path = os.path.join(directory, 'auxblob')
    auxblob = _read(aux_path) if os.path.exists(aux_path) else b''
    after = _generation(directory)
    if written != before + 1 or after != written:
        raise TsmError('another writer used %s (generation %d, then %d, '
                       'then %d): the report may not carry our '
                       'REPORT_DATA' % (directory, before, written, after))
    if not report:
        raise TsmError('empty outblob in %s' % directory)
    return Evidence(PROVIDERS[provider], report, auxblob)


def _remove(directory: str, root: str) -> None:
    try:
        os.rmdir(directory)
    except OSError as exc:
        # configfs removes attributes with the directory; a simulated tree
        # (another root than the kernel's) holds plain files.
        if exc.errno == errno.ENOTEMPTY and root != DEFAULT_ROOT:
            shutil.rmtree(directory, ignore_errors=True)
