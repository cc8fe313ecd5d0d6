"""Simulated evidence verifies under its own root only."""

import datetime
import os
import shutil

import pytest

from buckypaper_os import attestation
from buckypaper_os.attestation import policy as policy_mod
from buckypaper_os.attestation.snp import abi
from buckypaper_os.attestation.snp import tee as snp_tee
from buckypaper_os.simulated_tee import attester
from buckypaper_os.simulated_tee import certificates
from buckypaper_os.simulated_tee import pki as pki_mod

MEASUREMENT = bytes(range(48))
HOST_DATA = b'\x42' * 32
REPORT_DATA = b'\x07' * 64


def appraise(trust, evidence, certs, policy=None):
    return snp_tee.SNP(trust=trust).appraise(
        evidence, certs=tuple(certs), collateral=None,
        at=datetime.datetime.now(datetime.timezone.utc),
        policy=policy or policy_mod.Policy())


@pytest.fixture(scope='module')
def guest(pki):
    return attester.SimulatedAttester(pki, measurement=MEASUREMENT,
                                      host_data=HOST_DATA)


def test_report_verifies_with_the_simulated_trust(pki, guest):
    result = appraise(pki.trust_store(), guest.report(REPORT_DATA),
                      guest.certificates(),
                      policy_mod.Policy(measurements=(MEASUREMENT.hex(),),
                                        host_data=HOST_DATA.hex(),
                                        report_data=REPORT_DATA.hex(),
                                        snp_policy_set=0x30000, vmpl=0))
    assert result.verified, result.reasons
    assert result.status == 'affirming'
    assert result.claims['product'] == pki.product == abi.MILAN
    assert result.claims['version'] == 3
    assert result.claims['chip_id'] == pki.chip_id.hex()
    assert result.claims['reported_tcb'] == pki.tcb


def test_report_verifies_with_trust_from_public_files_only(pki, pki_dir,
                                                           guest, tmp_path):
    for name in pki_mod.PUBLIC_FILES:
        shutil.copy(os.path.join(pki_dir, name), tmp_path)
    assert sorted(os.listdir(tmp_path)) == ['ark.pem', 'ask.pem']
    result = appraise(pki_mod.load_trust(str(tmp_path)),
                      guest.report(REPORT_DATA), guest.certificates())
    assert result.verified, result.reasons
    assert result.status == 'affirming'


def test_pinned_amd_roots_refuse_it(guest):
    result = attestation.verify(guest.report(REPORT_DATA),
                                certs=guest.certificates())
    assert not result.verified
    assert result.status == 'contraindicated'
    assert ('the VCEK is not issued by the trusted ASK (SEV-Milan) for Milan'
            in result.reasons)


def test_report_data_is_fresh_per_report(guest):
    first, second = guest.report(REPORT_DATA), guest.report(bytes(64))
    assert abi.parse(first).report_data == REPORT_DATA
    assert abi.parse(second).report_data == bytes(64)


def test_lower_tcb_verifies_and_fails_a_minimum(pki):
    old = dict(pki.tcb, snp=pki.tcb['snp'] - 1)
    guest = attester.SimulatedAttester(pki, measurement=MEASUREMENT,
                                       host_data=HOST_DATA, tcb=old)
    evidence, certs = guest.report(REPORT_DATA), guest.certificates()
    assert appraise(pki.trust_store(), evidence, certs).verified
    result = appraise(pki.trust_store(), evidence, certs,
                      policy_mod.Policy(min_tcb=pki.tcb))
    assert result.verified and result.status == 'contraindicated'
    assert any('snp' in reason for reason in result.reasons)


def test_vcek_of_another_chip_is_refused(pki):
    guest = attester.SimulatedAttester(pki, measurement=MEASUREMENT,
                                       host_data=HOST_DATA,
                                       chip_id=b'\x01' * 64)
    evidence = guest.report(REPORT_DATA)
    assert appraise(pki.trust_store(), evidence,
                    guest.certificates()).verified
    result = appraise(pki.trust_store(), evidence,
                      [certificates.pem(pki.vcek()), pki.cert_chain()])
    assert 'certificate hwID does not match the CHIP_ID' in result.reasons


def test_turin_debug_guest_verifies_but_is_contraindicated():
    """Turin VCEKs carry an 8-byte hwID."""
    turin = pki_mod.SimulatedPki.generate(abi.TURIN)
    assert any(turin.chip_id[:8]) and not any(turin.chip_id[8:])
    guest = attester.SimulatedAttester(
        turin, measurement=MEASUREMENT, host_data=HOST_DATA,
        policy=0x30000 | abi.POLICY_DEBUG)
    result = appraise(turin.trust_store(), guest.report(REPORT_DATA),
                      guest.certificates())
    assert result.verified, result.reasons
    assert result.claims['product'] == abi.TURIN
    assert result.status == 'contraindicated'
