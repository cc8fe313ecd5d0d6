"""TDX verification against a PKI the tests generate (tdx_fakes)."""

import pytest

from buckypaper_os import attestation
from buckypaper_os.attestation import collateral_dir
from buckypaper_os.attestation.tdx import abi
from buckypaper_os.attestation.tdx import tee as tdx_tee
from tests.unit.attestation import tdx_fakes as fakes

POLICY = attestation.Policy()


def appraise(pki, quote, collateral=None, trust=None, policy=POLICY):
    plugin = tdx_tee.TDX(trust=pki.trust if trust is None else trust)
    return plugin.appraise(quote, certs=(), collateral=collateral,
                           at=fakes.AT, policy=policy)


@pytest.fixture(scope='module')
def pki():
    return fakes.make_pki()


@pytest.mark.parametrize('version,td15', [(4, False), (5, False), (5, True)])
@pytest.mark.parametrize('der_chain', [False, True])
@pytest.mark.parametrize('padding', [0, 61])
def test_quote_forms_verify(pki, version, td15, der_chain, padding):
    quote = fakes.make_quote(pki, version=version, td15=td15,
                             der_chain=der_chain, padding=padding)
    parsed = abi.parse(quote)
    assert parsed.header.version == version
    assert parsed.body_type == (abi.BODY_TYPE_TD15 if td15
                                else abi.BODY_TYPE_TD10)
    assert (parsed.report.mr_service_td is not None) is td15
    result = appraise(pki, quote, fakes.collateral(pki))
    assert result.verified, result.reasons
    assert result.tcb_status == 'UpToDate'
    assert result.status == 'affirming'
    assert result.claims['quote_version'] == version
    assert result.claims['fmspc'] == fakes.FMSPC.hex()
    assert result.claims['mr_td'] == '11' * 48
    assert result.claims['rtmr3'] == '73' * 48


def test_pinned_root_only_by_default(pki):
    result = attestation.verify(fakes.make_quote(pki), at=fakes.AT)
    assert not result.verified
    assert 'PCK certificate chain does not end in a trusted root' \
        in result.reasons


def test_other_root_not_trusted(pki):
    other = fakes.make_pki(fmspc=bytes(6))
    result = appraise(pki, fakes.make_quote(pki), trust=other.trust)
    assert not result.verified


def test_revoked_pck_certificate(pki):
    result = appraise(pki, fakes.make_quote(pki),
                      fakes.collateral(pki, revoked_pck=True))
    assert not result.verified and result.tcb_status is None
    assert 'Intel SGX PCK Certificate is revoked' in result.reasons


@pytest.mark.parametrize('name, replace, reason', [
    ('tcb_info.json', lambda pki, data: data.replace(
        b'"tcbEvaluationDataNumber": 17', b'"tcbEvaluationDataNumber": 19'),
     'TCB Info signature does not verify'),
    # Signed by the PCK CA, not the root: it could hide a revocation.
    ('root_ca_crl.der', lambda pki, data: fakes.crl(pki.root, pki.ca_key),
     'root CA CRL is not signed by the root CA'),
    # The TCB signer signs both TCB Info and the QE Identity.
    ('root_ca_crl.der', lambda pki, data: fakes.crl(
        pki.root, pki.root_key, [pki.tcb_signer]),
     'Intel SGX TCB Signing is revoked'),
], ids=['tampered-tcb-info', 'forged-root-crl', 'revoked-tcb-signer'])
def test_bad_collateral_file(pki, name, replace, reason):
    files = fakes.collateral_files(pki)
    files[name] = replace(pki, files[name])
    result = appraise(pki, fakes.make_quote(pki),
                      collateral_dir.MemoryCollateral(files))
    assert not result.verified
    assert reason in result.reasons


@pytest.mark.parametrize('overrides, reason', [
    ({'pceId': '0100'}, 'TCB Info is for another PCE ID'),
    ({'id': 'SGX'}, 'TCB Info is not TDX TCB Info version 3'),
    ({'version': 2}, 'TCB Info is not TDX TCB Info version 3'),
])
def test_tcb_info_of_another_kind(pki, overrides, reason):
    result = appraise(pki, fakes.make_quote(pki), fakes.collateral(
        pki, tcb=fakes.tcb_info(**overrides)))
    assert reason in result.reasons, result.reasons
    assert result.status != 'affirming'


def test_tcb_info_signed_by_wrong_certificate():
    pki = fakes.make_pki(tcb_signer_cn='Intel SGX PCK Platform CA 2')
    result = appraise(pki, fakes.make_quote(pki), fakes.collateral(pki))
    assert not result.verified


def test_tcb_info_for_another_fmspc(pki):
    tcb = fakes.tcb_info(fmspc=bytes.fromhex('00a06f000000'))
    result = appraise(pki, fakes.make_quote(pki),
                      fakes.collateral(pki, tcb=tcb))
    assert not result.verified
    assert 'TCB Info is for another FMSPC' in result.reasons


@pytest.mark.parametrize('field,value,reason', [
    ('mrsigner', 'AB' * 32, 'QE MRSIGNER does not match the QE Identity'),
    ('isvprodid', 1, 'QE ISVPRODID does not match the QE Identity'),
    ('miscselect', '00000001',
     'QE MISCSELECT does not match the QE Identity'),
    ('attributes', '13' + '00' * 15,
     'QE ATTRIBUTES do not match the QE Identity'),
    ('id', 'QE', 'QE Identity is not TD_QE identity version 2'),
])
def test_qe_identity_mismatch(pki, field, value, reason):
    qe = fakes.qe_identity(**{field: value})
    result = appraise(pki, fakes.make_quote(pki),
                      fakes.collateral(pki, qe=qe))
    assert not result.verified
    assert reason in result.reasons


def test_tdx_module_signer_mismatch(pki):
    quote = fakes.make_quote(pki, mr_signer_seam=b'\x01' * 48)
    result = appraise(pki, quote, fakes.collateral(pki))
    assert not result.verified
    assert 'MRSIGNERSEAM does not match the TDX module identity' \
        in result.reasons


def test_missing_tdx_module_identity(pki):
    tcb = fakes.tcb_info(module_id='TDX_03')
    result = appraise(pki, fakes.make_quote(pki),
                      fakes.collateral(pki, tcb=tcb))
    assert not result.verified


def test_no_tdx_module_identities(pki):
    tcb = fakes.tcb_info()
    del tcb['tdxModuleIdentities']
    result = appraise(pki, fakes.make_quote(pki),
                      fakes.collateral(pki, tcb=tcb))
    assert not result.verified
    assert ('TCB Info has no identity for TDX module major version 1'
            in result.reasons)


def test_seam_attributes_must_be_zero_whatever_the_mask(pki):
    tcb = fakes.tcb_info()
    tcb['tdxModuleIdentities'][0]['attributesMask'] = 'FE' + 'FF' * 7
    quote = fakes.make_quote(pki, seam_attributes=b'\x01' + bytes(7))
    result = appraise(pki, quote, fakes.collateral(pki, tcb=tcb))
    assert not result.verified
    assert 'SEAMATTRIBUTES do not match the TDX module identity' \
        in result.reasons


def test_quote_of_another_qe_vendor(pki):
    quote = fakes.make_quote(pki, qe_vendor_id=b'\xaa' * 16)
    for collateral in (None, fakes.collateral(pki)):
        result = appraise(pki, quote, collateral)
        assert not result.verified
        assert ('quote is not from Intel\'s QE (QE Vendor ID %s)'
                % ('aa' * 16)) in result.reasons


@pytest.mark.parametrize('deviation,reason', [
    ({'pck_cn': 'Not a PCK'},
     'PCK certificate is not an SGX PCK Certificate'),
    ({'pck_is_ca': True}, 'PCK certificate is not a signing end entity'),
    ({'pck_signs': False}, 'PCK certificate is not a signing end entity'),
    ({'ca_key_usage': False},
     'Intel SGX PCK Certificate is not issued by Intel SGX PCK Platform CA'),
    ({'root_path_length': 0},
     'Intel SGX Root CA may not have 1 CAs below it'),
    ({'tcb_signer_is_ca': True},
     'TCB Info signing certificate is not a signing end entity'),
    ({'ca_crl_sign': False},
     'PCK CRL is not signed by the PCK certificate issuer'),
])
def test_pki_follows_rfc_5280_and_intel(deviation, reason):
    other = fakes.make_pki(**deviation)
    result = appraise(other, fakes.make_quote(other),
                      fakes.collateral(other))
    assert not result.verified
    assert reason in result.reasons


def test_expired_collateral_is_stale_not_unverified(pki):
    plugin = tdx_tee.TDX(trust=pki.trust)
    late = fakes.AT.replace(year=2026)
    result = plugin.appraise(fakes.make_quote(pki), certs=(),
                             collateral=fakes.collateral(pki), at=late,
                             policy=POLICY)
    assert result.verified and result.tcb_status == 'UpToDate'
    assert result.status == 'contraindicated'
    assert 'TCB Info expired at 2026-01-01T00:00:00Z' in result.reasons


def _status(pki, levels=None, module_levels=None, qe_levels=None,
            tee_tcb_svn=fakes.TEE_TCB_SVN, qe_isv_svn=fakes.QE_ISVSVN):
    tcb = fakes.tcb_info(levels=levels, module_levels=module_levels)
    qe = fakes.qe_identity(levels=qe_levels)
    quote = fakes.make_quote(pki, tee_tcb_svn=tee_tcb_svn,
                             qe_isv_svn=qe_isv_svn)
    result = appraise(pki, quote, fakes.collateral(pki, tcb=tcb, qe=qe))
    assert result.verified, result.reasons
    return result.tcb_status


@pytest.mark.parametrize('status', [
    'UpToDate', 'SWHardeningNeeded', 'ConfigurationNeeded',
    'ConfigurationAndSWHardeningNeeded', 'OutOfDate',
    'OutOfDateConfigurationNeeded', 'Revoked'])
def test_platform_level_status(pki, status):
    assert _status(pki, levels=[fakes.tcb_level(status)]) == status


def test_first_matching_level_in_tcb_order(pki):
    higher_sgx = tuple(s + 1 for s in fakes.SGX_TCB)
    levels = [fakes.tcb_level('OutOfDate', sgx=(0,) * 16, pce_svn=0),
              fakes.tcb_level('UpToDate', sgx=higher_sgx),
              fakes.tcb_level('SWHardeningNeeded')]
    assert _status(pki, levels=levels) == 'SWHardeningNeeded'


def test_pcesvn_below_every_level(pki):
    levels = [fakes.tcb_level(pce_svn=fakes.PCE_SVN + 1)]
    assert _status(pki, levels=levels) == 'NoMatchingTcbLevel'


def test_tdx_components_above_quote(pki):
    tdx = bytearray(fakes.TEE_TCB_SVN)
    tdx[2] += 1
    levels = [fakes.tcb_level('UpToDate', tdx=tdx),
              fakes.tcb_level('OutOfDate', tdx=fakes.TEE_TCB_SVN)]
    assert _status(pki, levels=levels) == 'OutOfDate'


def test_module_major_version_skips_bytes_0_and_1(pki):
    # Major version 1: bytes 0-1 of the level are ignored, even if higher.
    level_tdx = bytes((9, 9)) + fakes.TEE_TCB_SVN[2:]
    levels = [fakes.tcb_level('UpToDate', tdx=level_tdx)]
    assert _status(pki, levels=levels) == 'UpToDate'
    # Major version 0: byte 0 counts and the level no longer matches.
    svn0 = bytes((6, 0)) + fakes.TEE_TCB_SVN[2:]
    assert _status(pki, levels=levels,
                   tee_tcb_svn=svn0) == 'NoMatchingTcbLevel'


@pytest.mark.parametrize('module_svn,platform,expected', [
    (6, 'UpToDate', 'UpToDate'),
    (3, 'UpToDate', 'OutOfDate'),
    (3, 'SWHardeningNeeded', 'OutOfDate'),
    (3, 'ConfigurationNeeded', 'OutOfDateConfigurationNeeded'),
    (3, 'ConfigurationAndSWHardeningNeeded', 'OutOfDateConfigurationNeeded'),
    (1, 'UpToDate', 'NoMatchingTcbLevel'),
])
def test_module_svn_graded_by_module_identity(pki, module_svn, platform,
                                              expected):
    svn = bytes((module_svn,)) + fakes.TEE_TCB_SVN[1:]
    levels = [fakes.tcb_level(platform, tdx=svn)]
    assert _status(pki, levels=levels, tee_tcb_svn=svn) == expected


def test_revoked_module_level(pki):
    module = fakes.identity_levels((4, 'UpToDate'), (0, 'Revoked'))
    svn = bytes((3,)) + fakes.TEE_TCB_SVN[1:]
    levels = [fakes.tcb_level(tdx=svn)]
    assert _status(pki, levels=levels, module_levels=module,
                   tee_tcb_svn=svn) == 'Revoked'


@pytest.mark.parametrize('qe_levels,platform,expected', [
    (((5, 'UpToDate'), (3, 'OutOfDate')), 'UpToDate', 'OutOfDate'),
    (((5, 'UpToDate'), (3, 'OutOfDate')), 'ConfigurationNeeded',
     'OutOfDateConfigurationNeeded'),
    (((5, 'UpToDate'), (0, 'Revoked')), 'UpToDate', 'Revoked'),
    (((5, 'UpToDate'),), 'UpToDate', 'NoMatchingTcbLevel'),
    (((4, 'UpToDate'), (2, 'OutOfDate')), 'SWHardeningNeeded',
     'SWHardeningNeeded'),
])
def test_qe_identity_level_downgrades(pki, qe_levels, platform, expected):
    assert _status(pki, levels=[fakes.tcb_level(platform)],
                   qe_levels=fakes.identity_levels(*qe_levels)) == expected


@pytest.mark.parametrize('status,tier', [
    ('UpToDate', 'affirming'), ('SWHardeningNeeded', 'warning'),
    ('OutOfDate', 'warning'), ('Revoked', 'contraindicated')])
def test_tier_of_status(pki, status, tier):
    tcb = fakes.tcb_info(levels=[fakes.tcb_level(status)])
    result = appraise(pki, fakes.make_quote(pki),
                      fakes.collateral(pki, tcb=tcb))
    assert result.status == tier


@pytest.mark.parametrize('attributes, reason, allowing', [
    (bytes((1,)) + bytes(7), 'guest has debugging enabled',
     {'allow_debug': True}),
    # MIGRATABLE (bit 29), with SEPT_VE_DISABLE (bit 28).
    (bytes((0, 0, 0, 0x30)) + bytes(4), 'TD_ATTRIBUTES.MIGRATABLE is set',
     {'allow_migration_agent': True})])
def test_readable_tds_are_refused_unless_allowed(pki, attributes, reason,
                                                 allowing):
    quote = fakes.make_quote(pki, td_attributes=attributes)
    result = appraise(pki, quote, fakes.collateral(pki))
    assert result.verified and result.status == 'contraindicated'
    assert reason in result.reasons
    assert appraise(pki, quote, fakes.collateral(pki),
                    policy=attestation.Policy(**allowing)).status == (
        'affirming')


def test_sept_ve_disable(pki):
    sept = attestation.Policy(require_sept_ve_disable=True)
    plain = fakes.make_quote(pki)
    assert appraise(pki, plain, fakes.collateral(pki),
                    policy=sept).status == 'contraindicated'
    with_sept = fakes.make_quote(pki, td_attributes=bytes((0, 0, 0, 0x10))
                                 + bytes(4))
    assert appraise(pki, with_sept, fakes.collateral(pki),
                    policy=sept).status == 'affirming'


def test_min_tcb_and_mr_owner(pki):
    quote = fakes.make_quote(pki)
    low = attestation.Policy(min_tcb={'tee_tcb_svn_2': 4})
    assert appraise(pki, quote, fakes.collateral(pki),
                    policy=low).status == 'contraindicated'
    ok = attestation.Policy(min_tcb={'tee_tcb_svn_2': 3},
                            mr_owner='55' * 48, mr_config_id='44' * 48)
    assert appraise(pki, quote, fakes.collateral(pki),
                    policy=ok).status == 'affirming'


@pytest.mark.parametrize('fields', [
    {'qe_bound_auth_data': bytes(32)},  # another key, or other auth data
    {'qe_binding_tail': b'\x01' + bytes(31)},  # REPORTDATA[32:] not zero
])
def test_qe_report_must_bind_the_attestation_key(pki, fields):
    """A QE report signed by the PCK key vouches only for its own key."""
    result = appraise(pki, fakes.make_quote(pki, **fields),
                      fakes.collateral(pki))
    assert not result.verified
    assert 'QE report does not bind the attestation key' in result.reasons


@pytest.mark.parametrize('policy, reason', [
    ({'mr_owner': '56' * 48}, 'mr_owner'),
    ({'mr_config_id': '45' * 48}, 'mr_config_id'),
    ({'rtmrs': {'2': ('72' * 48,), '3': ('74' * 48,)}}, 'rtmr3'),
    ({'rtmrs': {'4': ('74' * 48,)}}, 'policy names unknown RTMR 4'),
])
def test_instance_identity_and_rtmrs(pki, policy, reason):
    """mrConfigId, mrOwner and RTMRs are compared with the policy."""
    quote = fakes.make_quote(pki)
    result = appraise(pki, quote, fakes.collateral(pki),
                      policy=attestation.Policy(**policy))
    assert result.verified and result.status == 'contraindicated'
    assert any(reason in r for r in result.reasons), result.reasons
    every = attestation.Policy(
        rtmrs={str(i): ('%02x' % (0x70 + i) * 48,) for i in range(4)})
    assert appraise(pki, quote, fakes.collateral(pki),
                    policy=every).status == 'affirming'


def test_signature_over_body_and_qe_binding(pki):
    quote = bytearray(fakes.make_quote(pki))
    quote[48 + 520] ^= 1  # REPORTDATA
    assert not appraise(pki, bytes(quote)).verified


@pytest.mark.parametrize('mutation', [
    lambda q: q[:47], lambda q: q[:700], lambda q: q[:-200],
    lambda q: b'\x03' + q[1:],           # version 3
    lambda q: q[:4] + b'\x00' + q[5:],   # TEE type SGX
    lambda q: q[:2] + b'\x03' + q[3:],   # key type 3 (ECDSA P-384)
    lambda q: q[:764] + b'\x05' + q[765:],  # QE certification data type
], ids=['header', 'body', 'chain', 'version', 'tee', 'key', 'certtype'])
def test_malformed_quotes(pki, mutation):
    with pytest.raises(attestation.EvidenceError):
        abi.parse(mutation(fakes.make_quote(pki)))


def test_v5_unknown_body_type(pki):
    quote = bytearray(fakes.make_quote(pki, version=5))
    quote[48] = 1  # SGX enclave report body
    with pytest.raises(attestation.EvidenceError):
        abi.parse(bytes(quote))
