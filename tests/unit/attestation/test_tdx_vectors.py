"""The TDX vector cases give exactly their expected.json results."""

import pytest

from buckypaper_os import attestation
from buckypaper_os.attestation import collateral_dir
from buckypaper_os.attestation.tdx import collateral as collateral_mod
from tests import vectors

CASES = vectors.case_names('tdx-')
pytestmark = vectors.needs_vectors


@pytest.mark.parametrize('name', CASES)
@pytest.mark.parametrize('tee', ['tdx', None])
def test_expected(name, tee):
    case = vectors.Case(name)
    expected = case.expected
    result = attestation.verify(case.evidence, tee=tee,
                                collateral=case.collateral, at=case.at)
    assert result.tee == 'tdx'
    assert result.verified is expected['verified']
    assert result.tcb_status == expected['tcb_status']
    assert result.claims == expected['claims']
    assert result.status == expected['expect_status']
    assert list(result.tcb) == ['tee_tcb_svn_%d' % i for i in range(16)]


@pytest.mark.parametrize('name', CASES)
def test_without_collateral(name):
    case = vectors.Case(name)
    result = attestation.verify(case.evidence, at=case.at)
    assert result.verified is case.expected['verified']
    assert result.claims == case.expected['claims']
    assert result.tcb_status is None
    assert result.status == 'contraindicated'
    assert 'no collateral: TCB status unknown' in result.reasons or (
        not result.verified)


@pytest.mark.parametrize('name', CASES)
def test_without_collateral_not_required(name):
    case = vectors.Case(name)
    policy = attestation.Policy(require_collateral=False, allow_debug=True)
    result = attestation.verify(case.evidence, at=case.at, policy=policy)
    assert result.verified is case.expected['verified']
    assert result.status == ('affirming' if result.verified
                             else 'contraindicated')


def test_stale_collateral_is_contraindicated_but_verified():
    case = vectors.Case('tdx-v4-uptodate')
    late = case.at.replace(year=case.at.year + 1)
    result = attestation.verify(case.evidence, collateral=case.collateral,
                                at=late)
    assert result.verified and result.tcb_status == 'UpToDate'
    assert result.status == 'contraindicated'
    assert any('expired' in r for r in result.reasons)
    relaxed = attestation.Policy(check_validity=False)
    assert attestation.verify(case.evidence, collateral=case.collateral,
                              at=late, policy=relaxed).status == 'affirming'


def _files(case):
    return {name: case.read(name) for name in collateral_mod.FILES}


@pytest.mark.parametrize('missing', collateral_mod.FILES)
def test_partial_collateral_fails_closed(missing):
    case = vectors.Case('tdx-v4-uptodate')
    files = _files(case)
    del files[missing]
    result = attestation.verify(
        case.evidence, collateral=collateral_dir.MemoryCollateral(files),
        at=case.at)
    assert not result.verified and result.tcb_status is None
    assert result.status == 'contraindicated'
    assert any(missing in r for r in result.reasons)


def test_offline_cache_keyed_by_fmspc(tmp_path):
    """Collateral cached per platform as tdx/v4/{fmspc}/ is found there."""
    case = vectors.Case('tdx-v4-uptodate')
    fmspc = case.expected['claims']['fmspc']
    cache = tmp_path / 'tdx' / 'v4' / fmspc
    cache.mkdir(parents=True)
    for name, data in _files(case).items():
        (cache / name).write_bytes(data)
    result = attestation.verify(case.evidence, collateral=str(tmp_path),
                                at=case.at)
    assert result.status == case.expected['expect_status'] == 'affirming'
    assert result.tcb_status == case.expected['tcb_status']
    cache.rename(cache.parent / ('0' * 12))  # another platform's
    missing = attestation.verify(case.evidence, collateral=str(tmp_path),
                                 at=case.at)
    assert missing.tcb_status is None and 'no collateral: TCB status ' \
        'unknown' in missing.reasons


def test_collateral_of_another_platform():
    case = vectors.Case('tdx-v4-uptodate')
    other = vectors.Case('tdx-v4-debug')
    result = attestation.verify(case.evidence, collateral=other.collateral,
                                at=case.at)
    assert not result.verified
    assert 'TCB Info is for another FMSPC' in result.reasons


def test_tampered_tcb_info_signature():
    case = vectors.Case('tdx-v4-uptodate')
    files = _files(case)
    files['tcb_info.json'] = files['tcb_info.json'].replace(
        b'"tcbEvaluationDataNumber":17', b'"tcbEvaluationDataNumber":18')
    result = attestation.verify(
        case.evidence, collateral=collateral_dir.MemoryCollateral(files),
        at=case.at)
    assert not result.verified
    assert 'TCB Info signature does not verify' in result.reasons


def test_policy_measurement_and_report_data():
    case = vectors.Case('tdx-v4-uptodate')
    claims = case.expected['claims']
    good = attestation.Policy(measurements=(claims['mr_td'],),
                              report_data=claims['report_data'],
                              rtmrs={'0': (claims['rtmr0'],)})
    assert attestation.verify(case.evidence, collateral=case.collateral,
                              at=case.at, policy=good).status == 'affirming'
    bad = attestation.Policy(measurements=('00' * 48,))
    result = attestation.verify(case.evidence, collateral=case.collateral,
                                at=case.at, policy=bad)
    assert result.status == 'contraindicated'
    sept = attestation.Policy(require_sept_ve_disable=True)
    assert attestation.verify(case.evidence, collateral=case.collateral,
                              at=case.at, policy=sept).status == 'affirming'
    spr = vectors.Case('tdx-v4-spr-e4')
    result = attestation.verify(spr.evidence, at=spr.at, policy=sept)
    assert 'TD_ATTRIBUTES.SEPT_VE_DISABLE is clear' in result.reasons
