"""Reports built by the simulator parse as the firmware's do."""

import pytest

from buckypaper_os.attestation.snp import abi
from buckypaper_os.simulated_tee import report

CHIP_ID = bytes(range(64))


@pytest.mark.parametrize('product', abi.PRODUCTS)
def test_tcb_encoding_round_trips(product):
    tcb = report.DEFAULT_TCB[product]
    assert abi.decode_tcb(report.encode_tcb(tcb, product), product) == tcb


@pytest.mark.parametrize('tcb', [{'bl': 1}, {'bl': 1, 'tee': 0, 'snp': 2,
                                             'ucode': 256},
                                 dict(report.DEFAULT_TCB[abi.TURIN])])
def test_tcb_of_the_wrong_shape_is_refused(tcb):
    with pytest.raises(ValueError, match='a Milan TCB has components'):
        report.encode_tcb(tcb, abi.MILAN)


@pytest.mark.parametrize('version', abi.VERSIONS)
@pytest.mark.parametrize('product', abi.PRODUCTS)
def test_built_report_parses_without_anomalies(product, version):
    data = report.build(
        product, tcb=report.DEFAULT_TCB[product], chip_id=CHIP_ID,
        version=version, policy=0x30000 | abi.POLICY_DEBUG, vmpl=1,
        report_data=b'\x01' * 64, measurement=b'\x02' * 48,
        host_data=b'\x03' * 32, signing_key='vlek', mask_chip_key=True)
    parsed = abi.parse(data)
    assert parsed.anomalies == ()
    assert (parsed.version, parsed.vmpl, parsed.debug) == (version, 1, True)
    assert parsed.signing_key == 'vlek' and parsed.mask_chip_key
    assert parsed.cpuid_product == (product if version >= 3 else None)
    assert abi.decode_tcb(parsed.reported_tcb,
                          product) == report.DEFAULT_TCB[product]
    assert (parsed.report_data, parsed.measurement, parsed.host_data,
            parsed.chip_id) == (b'\x01' * 64, b'\x02' * 48, b'\x03' * 32,
                                CHIP_ID)


@pytest.mark.parametrize('field, size', [('report_data', 64),
                                         ('measurement', 48),
                                         ('host_data', 32), ('chip_id', 64)])
def test_field_of_the_wrong_size_is_refused(field, size):
    fields = {'tcb': report.DEFAULT_TCB[abi.MILAN], 'chip_id': CHIP_ID,
              field: bytes(size - 1)}
    with pytest.raises(ValueError, match='%s must be %d bytes' % (field,
                                                                  size)):
        report.build(abi.MILAN, **fields)


@pytest.mark.parametrize('kwargs', [{'version': 6}, {'signing_key': 'ask'}])
def test_unknown_version_or_key_is_refused(kwargs):
    with pytest.raises(ValueError):
        report.build(abi.MILAN, tcb=report.DEFAULT_TCB[abi.MILAN],
                     chip_id=CHIP_ID, **kwargs)


@pytest.mark.parametrize('kwargs', [{'signing_key': 'none'},
                                    {'mask_chip_key': True}])
def test_firmware_leaves_some_reports_unsigned(pki, kwargs):
    data = report.build(abi.MILAN, tcb=pki.tcb, chip_id=pki.chip_id,
                        **kwargs)
    with pytest.raises(ValueError, match='does not sign'):
        report.sign(data, pki.vcek_key)


def test_sign_fills_only_the_signature(pki):
    data = report.build(abi.MILAN, tcb=pki.tcb, chip_id=pki.chip_id)
    signed = report.sign(data, pki.vcek_key)
    assert len(signed) == abi.REPORT_SIZE
    assert signed[:abi.SIGNED_SIZE] == data[:abi.SIGNED_SIZE]
    parsed = abi.parse(signed)
    assert parsed.r and parsed.s and parsed.anomalies == ()
