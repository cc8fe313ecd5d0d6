"""Simulated guests for Nitride's tests: the guest side of the protocol."""

import base64
import os
import typing

from buckypaper_os import binding
from buckypaper_os.simulated_tee import attester
from buckypaper_os.simulated_tee import pki as pki_mod

MEASUREMENT = bytes.fromhex('5a' * 48)


class Guest:
    """One cVM: its instance, its launch and its ephemeral key."""

    def __init__(self, pki: pki_mod.SimulatedPki, instance_uuid: str,
                 project_id: str, *, measurement: bytes = MEASUREMENT,
                 host_data: typing.Optional[bytes] = None,
                 policy: int = 0x30000,
                 tcb: typing.Optional[dict] = None) -> None:
        self.instance_uuid = instance_uuid
        self.project_id = project_id
        self.attester = attester.SimulatedAttester(
            pki, measurement=measurement,
            host_data=host_data or binding.host_data(instance_uuid,
                                                     project_id),
            policy=policy, tcb=tcb)
        self.public_key = os.urandom(1216)

    def evidence(self, nonce: bytes,
                 report_data: typing.Optional[bytes] = None
                 ) -> typing.Tuple[bytes, typing.List[bytes]]:
        """A report binding ``nonce`` and the guest's key, and its certs."""
        data = report_data or binding.report_data(nonce, self.public_key)
        return self.attester.report(data), self.attester.certificates()


def attest(engine, guest: Guest, nonce: typing.Optional[bytes] = None,
           **evidence_kwargs) -> dict:
    """``guest`` challenges (unless given ``nonce``) and attests.

    ``engine`` is an Engine, or anything with its ``challenge`` and
    ``attest``.
    """
    if nonce is None:
        nonce = base64.b64decode(
            engine.challenge(guest.instance_uuid)['nonce'])
    report, certs = guest.evidence(nonce, **evidence_kwargs)
    return engine.attest(guest.instance_uuid, nonce, report, certs,
                         guest.public_key)
