"""When the files of the operator's collateral cache need refreshing.

With ``[attestation] collateral_cache_dir`` set, Nitride refuses evidence
whose CRL or TDX TCB data there is past its next update.
``buckypaper-nitride-manage collateral check`` lists every CRL and TCB
document of the cache with its next update, and fails when one is
unreadable, expired or expires within the given number of days.
"""

import datetime
import os
import typing

from buckypaper_os.attestation import collateral_dir
from buckypaper_os.attestation import errors
from buckypaper_os.attestation.tdx import collateral as tdx_collateral
from buckypaper_os.attestation import x509util

#: File names of CRLs in the cache (AMD KDS layout and Intel PCS files).
CRL_NAMES = ('crl', 'crl.der', 'crl.pem', 'pck_crl.der', 'root_ca_crl.der')
#: Intel PCS documents and the member that holds their dates.
DOCUMENTS = {'tcb_info.json': 'tcbInfo',
             'qe_identity.json': 'enclaveIdentity'}


class Entry(typing.NamedTuple):
    """One dated file: its path in the cache, next update or problem."""

    path: str
    next_update: typing.Optional[datetime.datetime]
    problem: typing.Optional[str]


def entries(root: str) -> typing.List[Entry]:
    """Every CRL and TCB document under ``root``, sorted by path."""
    cache = collateral_dir.CollateralDir(root)
    found = []
    for directory, _, names in os.walk(root):
        for name in names:
            if name in CRL_NAMES or name in DOCUMENTS:
                path = os.path.relpath(os.path.join(directory, name), root)
                found.append(_entry(cache, path, name))
    return sorted(found)


def _entry(cache: collateral_dir.CollateralDir, path: str,
           name: str) -> Entry:
    try:
        data = cache.read(path) or b''
        if name in DOCUMENTS:
            return Entry(path, tdx_collateral.next_update(
                data, DOCUMENTS[name]), None)
        return Entry(path, x509util.load_crl(data).next_update_utc, None)
    except errors.EvidenceError as exc:
        return Entry(path, None, str(exc))


def state(entry: Entry, now: datetime.datetime,
          days: int) -> typing.Tuple[bool, str]:
    """(whether it is fine, what to print) for ``entry`` at ``now``."""
    if entry.problem is not None:
        return False, entry.problem
    if entry.next_update is None:
        # The verifier refuses such a CRL as stale (x509util.stale_crl).
        return False, 'no nextUpdate: refused'
    if entry.next_update <= now:
        return False, 'expired'
    left = entry.next_update - now
    if left <= datetime.timedelta(days=days):
        return False, 'expires in %s' % str(left).split('.')[0]
    return True, 'ok'
