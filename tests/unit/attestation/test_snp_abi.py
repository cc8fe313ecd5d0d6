"""Parsing of the SEV-SNP ATTESTATION_REPORT."""

import struct

import pytest

from buckypaper_os import attestation
from buckypaper_os.attestation import errors
from buckypaper_os.attestation.snp import abi
from buckypaper_os.attestation.snp import tee as snp_tee
from tests.unit.attestation import snp_fakes as fakes


def _report(**kwargs) -> bytearray:
    return bytearray(fakes.report(None, abi.MILAN, **kwargs))


@pytest.mark.parametrize('size', [0, 1, abi.REPORT_SIZE - 1,
                                  abi.REPORT_SIZE + 1, 4096])
def test_wrong_length(size):
    data = bytes(_report()[:size]) + bytes(max(0, size - abi.REPORT_SIZE))
    with pytest.raises(errors.EvidenceError,
                       match='SEV-SNP report is %d bytes, expected 1184'
                       % size):
        abi.parse(data)
    with pytest.raises(errors.EvidenceError):
        attestation.verify(data, tee='sev-snp')


@pytest.mark.parametrize('version', [0, 1, 6, 0xFFFFFFFF])
def test_unknown_version(version):
    data = _report()
    struct.pack_into('<I', data, 0, version)
    with pytest.raises(errors.EvidenceError, match='version %d' % version):
        abi.parse(bytes(data))
    assert not snp_tee.SNP().recognizes(bytes(data))


def _anomalies(data: bytearray):
    """The anomalies of a report, and the verdict of the verifier on it."""
    report = abi.parse(bytes(data))
    result = attestation.verify(bytes(data), tee='sev-snp')
    assert result.verified is False
    assert result.status == 'contraindicated'
    assert result.claims['version'] == report.version
    assert set(report.anomalies) <= set(result.reasons)
    return report.anomalies


@pytest.mark.parametrize('algo', [0, 2, 0x100])
def test_signature_algorithm(algo):
    data = _report()
    struct.pack_into('<I', data, 0x34, algo)
    assert 'signature algorithm %d' % algo in _anomalies(data)[0]


@pytest.mark.parametrize('version,offset', [
    (2, 0x4C), (2, 0x188), (2, 0x19F), (2, 0x1EB), (2, 0x1EF), (2, 0x1F8),
    (2, 0x29F), (3, 0x18B), (3, 0x1F8), (5, 0x208), (5, 0x29F), (3, 0x330),
    (5, 0x49F)])
def test_reserved_must_be_zero(version, offset):
    data = _report(version=version)
    assert not abi.parse(bytes(data)).anomalies
    data[offset] = 1
    (anomaly,) = _anomalies(data)
    assert 'reserved' in anomaly and 'not zero' in anomaly


def test_key_info_reserved_bits_and_signing_keys():
    data = _report()
    struct.pack_into('<I', data, 0x48, 1 << 5)
    assert 'reserved bits at 0x48' in _anomalies(data)[0]
    for key in range(2, 7):
        struct.pack_into('<I', data, 0x48, key << 2)
        with pytest.raises(errors.EvidenceError, match='signing key'):
            abi.parse(bytes(data))
    struct.pack_into('<I', data, 0x48, (1 << 2) | 2)
    report = abi.parse(bytes(data))
    assert report.signing_key == 'vlek' and report.mask_chip_key


def test_version_fields():
    v5 = abi.parse(fakes.report(None, abi.TURIN, version=5))
    assert v5.cpuid == fakes.CPUID[abi.TURIN]
    assert v5.cpuid_product == abi.TURIN
    v2 = abi.parse(fakes.report(None, abi.GENOA, version=2))
    assert v2.cpuid is None and v2.cpuid_product is None


@pytest.mark.parametrize('family,model,product', [
    (0x19, 0x00, abi.MILAN), (0x19, 0x01, abi.MILAN), (0x19, 0x0F, abi.MILAN),
    (0x19, 0x10, abi.GENOA), (0x19, 0x11, abi.GENOA), (0x19, 0x1F, abi.GENOA),
    (0x19, 0xA0, abi.GENOA), (0x19, 0xAF, abi.GENOA),
    (0x1A, 0x00, abi.TURIN), (0x1A, 0x11, abi.TURIN), (0x1A, 0x1F, abi.TURIN),
    (0x19, 0x20, None), (0x19, 0xB0, None), (0x1A, 0x20, None),
    (0x17, 0x31, None), (0, 0, None)])
def test_product_of_cpuid(family, model, product):
    assert abi.product_of_cpuid(family, model) == product


def test_decode_tcb():
    value = int.from_bytes(bytes([1, 2, 3, 4, 5, 6, 7, 8]), 'little')
    assert abi.decode_tcb(value, abi.MILAN) == {
        'bl': 1, 'tee': 2, 'snp': 7, 'ucode': 8}
    assert abi.decode_tcb(value, abi.GENOA) == abi.decode_tcb(value, None)
    assert abi.decode_tcb(value, abi.TURIN) == {
        'fmc': 1, 'bl': 2, 'tee': 3, 'snp': 4, 'ucode': 8}


def test_claims_are_lowercase_hex():
    report = abi.parse(fakes.report(None, abi.MILAN, policy=0xB0000,
                                    vmpl=2, measurement=b'\xab' * 48))
    claims = abi.claims(report, abi.MILAN)
    assert claims['policy'] == '0xb0000'
    assert claims['vmpl'] == 2
    assert claims['measurement'] == 'ab' * 48
    assert report.debug
