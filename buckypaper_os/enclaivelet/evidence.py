"""Evidence of this guest: configfs-tsm first, ``/dev/sev-guest`` second."""

import os
import typing

from buckypaper_os.enclaivelet import certtable
from buckypaper_os.enclaivelet import sevguest
from buckypaper_os.enclaivelet import tsm


class EvidenceError(Exception):
    """No TEE interface, or none that produced evidence."""


class Evidence(typing.NamedTuple):
    tee: str
    report: bytes
    certificates: typing.List[bytes]
    source: str


def collect(report_data: bytes, tsm_root: str = tsm.DEFAULT_ROOT,
            sev_device: str = sevguest.DEVICE) -> Evidence:
    """A report (or quote) carrying ``report_data`` and its certificates."""
    try:
        if tsm.available(tsm_root):
            taken = tsm.get_report(report_data, tsm_root)
            certs = (certtable.certificates(taken.auxblob)
                     if taken.tee == 'sev-snp' else [])
            return Evidence(taken.tee, taken.report, certs,
                            'configfs-tsm %s' % tsm_root)
        if os.path.exists(sev_device):
            report, table = sevguest.get_ext_report(report_data,
                                                    device=sev_device)
            return Evidence('sev-snp', report,
                            certtable.certificates(table), sev_device)
    except (tsm.TsmError, sevguest.SevGuestError,
            certtable.CertTableError) as exc:
        raise EvidenceError(str(exc)) from None
    raise EvidenceError('no TEE interface: neither configfs-tsm (%s) nor '
                        '%s exists; is this a confidential VM?'
                        % (tsm_root, sev_device))
