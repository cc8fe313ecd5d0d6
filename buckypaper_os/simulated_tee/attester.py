"""A guest of the simulated TEE: reports on demand, and its certificates."""

import os
import typing

from buckypaper_os.simulated_tee import certificates
from buckypaper_os.simulated_tee import pki as pki_mod
from buckypaper_os.simulated_tee import report as report_mod


class SimulatedAttester:
    """Signs version 3 reports for one guest with ``pki``'s VCEK.

    ``tcb`` and ``chip_id`` default to the PKI's; others get a VCEK of
    their own from the PKI. REPORT_ID is random per attester, like a
    guest's per launch.
    """

    def __init__(self, pki: pki_mod.SimulatedPki, *, measurement: bytes,
                 host_data: bytes, policy: int = 0x30000, vmpl: int = 0,
                 tcb: typing.Optional[typing.Mapping[str, int]] = None,
                 chip_id: typing.Optional[bytes] = None) -> None:
        self.pki = pki
        self.measurement, self.host_data = measurement, host_data
        self.policy, self.vmpl = policy, vmpl
        self.tcb = dict(pki.tcb if tcb is None else tcb)
        self.chip_id = pki.chip_id if chip_id is None else chip_id
        self.report_id = os.urandom(32)

    def report(self, report_data: bytes) -> bytes:
        """A signed ATTESTATION_REPORT carrying ``report_data`` (64 bytes)."""
        unsigned = report_mod.build(
            self.pki.product, tcb=self.tcb, chip_id=self.chip_id,
            policy=self.policy, vmpl=self.vmpl, report_data=report_data,
            measurement=self.measurement, host_data=self.host_data,
            report_id=self.report_id)
        return report_mod.sign(unsigned, self.pki.vcek_key)

    def certificates(self) -> typing.List[bytes]:
        """The VCEK and the KDS ``cert_chain`` (PEM), sent with a report."""
        return [certificates.pem(self.pki.vcek(self.chip_id, self.tcb)),
                self.pki.cert_chain()]
