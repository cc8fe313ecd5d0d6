"""SEV-SNP verification under a self-made AMD PKI (see snp_fakes)."""

import os

from hypothesis import given
from hypothesis import HealthCheck
from hypothesis import settings
from hypothesis import strategies as st
import pytest

from buckypaper_os.attestation import collateral_dir
from buckypaper_os.attestation import errors
from buckypaper_os.attestation import policy as policy_mod
from buckypaper_os.attestation.snp import abi
from buckypaper_os.attestation.snp import kds
from buckypaper_os.attestation.snp import tee as snp_tee
from buckypaper_os.attestation.snp import trust
from buckypaper_os.attestation.snp import validate
from tests.unit.attestation import snp_fakes as fakes

from cryptography.hazmat.primitives import serialization


@pytest.fixture(scope='module')
def amd():
    return fakes.FakeAmd()


@pytest.fixture(scope='module')
def snp(amd):
    return snp_tee.SNP(trust=amd.trust())


@pytest.fixture(scope='module')
def key():
    return fakes.new_key()


def appraise(plugin, evidence, certs=(), collateral=None, policy=None):
    return plugin.appraise(evidence, certs=tuple(certs),
                           collateral=collateral, at=fakes.AT,
                           policy=policy or policy_mod.Policy())


def vcek_certs(amd, key, product, **kwargs):
    return [fakes.pem(amd.signing_cert(key, product, **kwargs)),
            amd.chain(product)]


@pytest.mark.parametrize('product', abi.PRODUCTS)
@pytest.mark.parametrize('version', [3, 4, 5])
def test_vcek_report_verifies(amd, snp, key, product, version):
    evidence = fakes.report(key, product, version=version)
    result = appraise(snp, evidence, vcek_certs(amd, key, product))
    assert result.verified, result.reasons
    assert result.status == 'affirming'
    assert result.claims['product'] == product
    assert result.claims['version'] == version
    assert result.claims['reported_tcb'] == fakes.TCB[product]


def test_v2_report_takes_product_from_vcek(amd, snp, key):
    evidence = fakes.report(key, abi.GENOA, version=2)
    result = appraise(snp, evidence, vcek_certs(amd, key, abi.GENOA))
    assert result.verified, result.reasons
    assert result.claims['product'] == abi.GENOA


def test_turin_uses_fmc_and_8_byte_hwid(amd, snp, key):
    evidence = fakes.report(key, abi.TURIN, version=5)
    assert evidence[0x1A8:0x1E0] == bytes(56)
    result = appraise(snp, evidence, vcek_certs(amd, key, abi.TURIN))
    assert result.verified, result.reasons
    assert result.claims['reported_tcb'] == {
        'fmc': 1, 'bl': 2, 'tee': 3, 'snp': 4, 'ucode': 72}
    assert len(amd.signing_cert(key, abi.TURIN).extensions) == 8


def test_turin_fmc_mismatch(amd, snp, key):
    tcb = dict(fakes.TCB[abi.TURIN], fmc=9)
    evidence = fakes.report(key, abi.TURIN)
    result = appraise(snp, evidence, vcek_certs(amd, key, abi.TURIN,
                                                tcb=tcb))
    assert not result.verified
    assert ('certificate fmc SPL 9 does not match the reported TCB 1'
            in result.reasons)


def test_vlek_report(amd, snp, key):
    evidence = fakes.report(key, abi.MILAN, signing_key='vlek',
                            chip_id=bytes(64))
    vlek = amd.signing_cert(key, abi.MILAN, kind='vlek')
    result = appraise(snp, evidence,
                      [fakes.pem(vlek), amd.chain(abi.MILAN, 'vlek')])
    assert result.verified, result.reasons
    assert result.claims['signing_key'] == 'vlek'


def test_vlek_certificate_for_vcek_report(amd, snp, key):
    evidence = fakes.report(key, abi.MILAN, signing_key='vcek')
    vlek = amd.signing_cert(key, abi.MILAN, kind='vlek')
    result = appraise(snp, evidence,
                      [fakes.pem(vlek), amd.chain(abi.MILAN, 'vlek')])
    assert not result.verified
    assert ('the report is signed with the VCEK but the certificate is a '
            'VLEK' in result.reasons)


def test_vcek_not_issued_by_ask(amd, snp, key):
    """A VCEK-type certificate issued by the ASVK is not a VCEK."""
    evidence = fakes.report(key, abi.MILAN, signing_key='vlek',
                            chip_id=bytes(64))
    vcek = amd.signing_cert(key, abi.MILAN)
    result = appraise(snp, evidence, [fakes.pem(vcek)])
    assert not result.verified
    assert any('not issued by the trusted ASVK' in r for r in result.reasons)


def test_revoked_by_crl(amd, snp, key):
    evidence = fakes.report(key, abi.MILAN)
    certs = vcek_certs(amd, key, abi.MILAN, serial=4242)
    crl = amd.crl(abi.MILAN, revoked=[4242])
    collateral = collateral_dir.MemoryCollateral(
        {'crl.der': crl.public_bytes(serialization.Encoding.DER)})
    result = appraise(snp, evidence, certs, collateral)
    assert not result.verified
    assert 'SEV-VCEK is revoked' in result.reasons


def _crl(crl):
    return collateral_dir.MemoryCollateral(
        {'crl.der': crl.public_bytes(serialization.Encoding.DER)})


def test_crl_revoking_the_ask(amd, snp, key):
    """Serial 2 is the fake ASK's: every VCEK under it falls with it."""
    result = appraise(snp, fakes.report(key, abi.MILAN),
                      vcek_certs(amd, key, abi.MILAN),
                      _crl(amd.crl(abi.MILAN, revoked=[2])))
    assert not result.verified
    assert 'SEV-Milan is revoked' in result.reasons


@pytest.mark.parametrize('last_update, next_update, reason', [
    (fakes.NOT_BEFORE, fakes.AT.replace(month=1, day=1, year=2024),
     'AMD KDS CRL expired'),
    (fakes.AT.replace(year=2026), fakes.NOT_AFTER,
     'AMD KDS CRL not yet valid'),
])
def test_crl_outside_its_validity_is_stale(amd, snp, key, last_update,
                                           next_update, reason):
    result = appraise(snp, fakes.report(key, abi.MILAN),
                      vcek_certs(amd, key, abi.MILAN),
                      _crl(amd.crl(abi.MILAN, last_update=last_update,
                                   next_update=next_update)))
    assert result.verified and result.status == 'contraindicated'
    assert any(r.startswith(reason) for r in result.reasons), result.reasons


def _anchors_plugin(amd, **anchors):
    """An SNP plugin whose Milan anchors are ``amd``'s but ``anchors``."""
    base = amd.anchors(abi.MILAN)
    fields = {'ark': base.ark, 'ask': base.ask, 'asvk': base.asvk}
    fields.update(anchors)
    return snp_tee.SNP(trust=trust.TrustStore(
        {abi.MILAN: trust.Anchors(**fields)}))


def test_expired_ask_is_stale(amd, key):
    ask = fakes.make_cert('SEV-Milan', amd.ask_key, 'ARK-Milan',
                          amd.ark_key, 2, ca=True,
                          not_after=fakes.AT.replace(year=2024))
    result = appraise(_anchors_plugin(amd, ask=ask),
                      fakes.report(key, abi.MILAN),
                      [fakes.pem(amd.signing_cert(key, abi.MILAN))])
    assert result.verified and result.status == 'contraindicated'
    assert any(r.startswith('SEV-Milan expired') for r in result.reasons)


def test_pinned_anchors_must_chain(amd, key):
    """A trust store with a foreign ASK or ARK verifies nothing."""
    other = fakes.FakeAmd('other')
    foreign_ask = appraise(
        _anchors_plugin(amd, ask=other.anchors(abi.MILAN).ask),
        fakes.report(key, abi.MILAN),
        [fakes.pem(other.signing_cert(key, abi.MILAN))])
    assert not foreign_ask.verified
    assert ('the ASK SEV-Milan is not signed by the ARK ARK-Milan'
            in foreign_ask.reasons)
    ark = fakes.make_cert('ARK-Milan', amd.ark_key, 'ARK-Milan',
                          other.ark_key, 1, ca=True)
    unsigned_ark = appraise(_anchors_plugin(amd, ark=ark),
                            fakes.report(key, abi.MILAN),
                            vcek_certs(amd, key, abi.MILAN))
    assert not unsigned_ark.verified
    assert 'the ARK ARK-Milan is not self-signed' in unsigned_ark.reasons


def test_crl_revoking_other_serials(amd, snp, key):
    evidence = fakes.report(key, abi.MILAN)
    crl = amd.crl(abi.MILAN, revoked=[7])
    collateral = collateral_dir.MemoryCollateral(
        {'crl.pem': crl.public_bytes(serialization.Encoding.PEM)})
    result = appraise(snp, evidence, vcek_certs(amd, key, abi.MILAN),
                      collateral)
    assert result.verified, result.reasons


def test_crl_not_signed_by_ark(amd, snp, key):
    evidence = fakes.report(key, abi.MILAN)
    crl = fakes.FakeAmd('other').crl(abi.MILAN)
    collateral = collateral_dir.MemoryCollateral(
        {'crl.der': crl.public_bytes(serialization.Encoding.DER)})
    result = appraise(snp, evidence, vcek_certs(amd, key, abi.MILAN),
                      collateral)
    assert not result.verified
    assert 'the CRL is not signed by the ARK ARK-Milan' in result.reasons


def test_required_crl(amd, snp, key):
    """With require_crl a report is refused until a CRL was checked."""
    evidence = fakes.report(key, abi.MILAN)
    strict = policy_mod.Policy(require_crl=True)
    certs = vcek_certs(amd, key, abi.MILAN)
    without = appraise(snp, evidence, certs, policy=strict)
    assert without.verified and without.status == 'contraindicated'
    assert validate.NO_CRL in without.reasons
    crl = amd.crl(abi.MILAN).public_bytes(serialization.Encoding.DER)
    with_crl = appraise(snp, evidence, certs, collateral_dir.MemoryCollateral(
        {'crl.der': crl}), policy=strict)
    assert with_crl.status == 'affirming', with_crl.reasons


def test_unreadable_crl_is_evidence_error(snp, amd, key):
    collateral = collateral_dir.MemoryCollateral({'crl.der': b'junk'})
    with pytest.raises(errors.EvidenceError, match='CRL'):
        appraise(snp, fakes.report(key, abi.MILAN),
                 vcek_certs(amd, key, abi.MILAN), collateral)


def test_tcb_mismatch(amd, snp, key):
    evidence = fakes.report(key, abi.MILAN)
    tcb = dict(fakes.TCB[abi.MILAN], snp=9)
    result = appraise(snp, evidence, vcek_certs(amd, key, abi.MILAN,
                                                tcb=tcb))
    assert not result.verified
    assert ('certificate snp SPL 9 does not match the reported TCB 8'
            in result.reasons)


def test_hwid_mismatch(amd, snp, key):
    evidence = fakes.report(key, abi.MILAN)
    result = appraise(snp, evidence, vcek_certs(amd, key, abi.MILAN,
                                                hwid=b'\x99' * 64))
    assert not result.verified
    assert 'certificate hwID does not match the CHIP_ID' in result.reasons


def test_masked_chip_id_skips_hwid(amd, snp, key):
    evidence = fakes.report(key, abi.MILAN, chip_id=bytes(64))
    result = appraise(snp, evidence, vcek_certs(amd, key, abi.MILAN))
    assert result.verified, result.reasons


def test_product_mismatch(amd, snp, key):
    """A Milan report (by CPUID) with a Genoa VCEK and chain."""
    evidence = fakes.report(key, abi.MILAN)
    result = appraise(snp, evidence, vcek_certs(
        amd, key, abi.GENOA, tcb=fakes.TCB[abi.MILAN]))
    assert not result.verified
    assert ('certificate product Genoa does not match the report product '
            'Milan' in result.reasons)
    assert not any('ARK-Genoa' in r for r in result.reasons)


def test_unrelated_supplied_certificates_are_ignored(amd, snp, key):
    """A bundle of every product's roots does not spoil a genuine report."""
    evidence = fakes.report(key, abi.MILAN)
    extra = [amd.chain(abi.GENOA), amd.chain(abi.TURIN, 'vlek')]
    result = appraise(snp, evidence,
                      vcek_certs(amd, key, abi.MILAN) + extra)
    assert result.verified, result.reasons


def test_product_name_mismatch_same_chain(amd, snp, key):
    evidence = fakes.report(key, abi.MILAN)
    result = appraise(snp, evidence, vcek_certs(
        amd, key, abi.MILAN, product_name='Genoa-B1'))
    assert not result.verified
    assert ('certificate product Genoa does not match the report product '
            'Milan' in result.reasons)


def test_wrong_key(amd, snp, key):
    evidence = fakes.report(fakes.new_key(), abi.MILAN)
    result = appraise(snp, evidence, vcek_certs(amd, key, abi.MILAN))
    assert not result.verified
    assert 'report signature does not verify with the VCEK' in result.reasons


def test_unsigned_report(amd, snp, key):
    evidence = fakes.report(None, abi.MILAN, signing_key='none')
    result = appraise(snp, evidence, vcek_certs(amd, key, abi.MILAN))
    assert not result.verified
    assert result.claims['signing_key'] == 'none'


def test_pinned_root_substitution(amd, key):
    """A self-made chain named like AMD's is refused by default."""
    evidence = fakes.report(key, abi.MILAN)
    certs = vcek_certs(amd, key, abi.MILAN)
    for plugin in (snp_tee.SNP(), snp_tee.SNP(trust=trust.pinned())):
        result = appraise(plugin, evidence, certs)
        assert not result.verified
        assert result.status == 'contraindicated'
        assert ('the VCEK is not issued by the trusted ASK (SEV-Milan) for '
                'Milan' in result.reasons)
        assert ('certificate ARK-Milan is neither a trusted AMD certificate '
                'for Milan nor issued by its ARK' in result.reasons)


def test_reissued_ask_is_accepted(amd, snp, key):
    """A supplied ASK re-issued by the trusted ARK is no reason to refuse.

    The VCEK must still chain to the trusted ASK.
    """
    product = abi.MILAN
    anchors = amd.anchors(product)
    reissued = fakes.make_cert('SEV-Milan', amd.ask_key, 'ARK-Milan',
                               amd.ark_key, 99)
    vcek = fakes.pem(amd.signing_cert(key, product))
    evidence = fakes.report(key, product)
    result = appraise(snp, evidence, [vcek, fakes.pem(reissued, anchors.ark)])
    assert result.verified, result.reasons
    stranger = fakes.make_cert('SEV-Milan', amd.ask_key, 'ARK-Milan',
                               fakes.FakeAmd('other').ark_key, 98)
    result = appraise(snp, evidence, [vcek, fakes.pem(stranger)])
    assert not result.verified
    assert any('neither a trusted AMD certificate' in r
               for r in result.reasons)


def test_other_fake_pki_is_not_trusted(amd, snp, key):
    other = fakes.FakeAmd('other')
    evidence = fakes.report(key, abi.MILAN)
    result = appraise(snp, evidence, vcek_certs(other, key, abi.MILAN))
    assert not result.verified


def test_kds_offline_cache(amd, snp, key, tmp_path):
    product = abi.TURIN
    evidence = fakes.report(key, product, version=5)
    vcek = amd.signing_cert(key, product)
    path = kds.cache_path(product, fakes.CHIP_ID, fakes.TCB[product])
    assert path == ('vcek/v1/Turin/%s/fmc1-bl2-tee3-snp4-ucode72.der'
                    % fakes.CHIP_ID[:8].hex())
    target = tmp_path / path
    target.parent.mkdir(parents=True)
    target.write_bytes(vcek.public_bytes(serialization.Encoding.DER))
    (tmp_path / 'vcek/v1/Turin/cert_chain').write_bytes(amd.chain(product))
    crl = amd.crl(product).public_bytes(serialization.Encoding.DER)
    (tmp_path / 'vcek/v1/Turin/crl').write_bytes(crl)
    result = appraise(snp, evidence,
                      collateral=collateral_dir.CollateralDir(str(tmp_path)))
    assert result.verified, result.reasons
    assert result.status == 'affirming'


def test_kds_offline_cache_v2_tries_products(amd, snp, key, tmp_path):
    evidence = fakes.report(key, abi.GENOA, version=2)
    vcek = amd.signing_cert(key, abi.GENOA)
    target = tmp_path / kds.cache_path(abi.GENOA, fakes.CHIP_ID,
                                       fakes.TCB[abi.GENOA])
    target.parent.mkdir(parents=True)
    target.write_bytes(vcek.public_bytes(serialization.Encoding.DER))
    result = appraise(snp, evidence,
                      collateral=collateral_dir.CollateralDir(str(tmp_path)))
    assert result.verified, result.reasons
    assert result.claims['product'] == abi.GENOA


def test_kds_cache_miss_is_contraindicated(snp, key, tmp_path):
    evidence = fakes.report(key, abi.MILAN)
    result = appraise(snp, evidence,
                      collateral=collateral_dir.CollateralDir(str(tmp_path)))
    assert not result.verified
    assert 'no VCEK certificate for the report' in result.reasons


def test_stale_certificate_goes_to_stale_not_verified(amd, snp, key):
    evidence = fakes.report(key, abi.MILAN)
    plugin_result = snp.appraise(
        evidence, certs=tuple(vcek_certs(amd, key, abi.MILAN)),
        collateral=None, at=fakes.NOT_BEFORE.replace(year=2020),
        policy=policy_mod.Policy())
    assert plugin_result.verified
    assert plugin_result.status == 'contraindicated'
    assert any('not yet valid' in r for r in plugin_result.reasons)


@settings(max_examples=int(os.environ.get('FUZZ_EXAMPLES', 200)),
          deadline=None, suppress_health_check=[
              HealthCheck.too_slow, HealthCheck.function_scoped_fixture])
@given(changes=st.dictionaries(st.integers(0, 1000), st.integers(1, 255),
                               min_size=1, max_size=4))
def test_mutated_crl(amd, snp, key, changes):
    """A corrupted CRL is unreadable (EvidenceError) or refused."""
    crl = bytearray(amd.crl(abi.MILAN, revoked=[7]).public_bytes(
        serialization.Encoding.DER))
    for offset, mask in changes.items():
        crl[offset % len(crl)] ^= mask
    collateral = collateral_dir.MemoryCollateral({'crl.der': bytes(crl)})
    try:
        result = appraise(snp, fakes.report(key, abi.MILAN),
                          vcek_certs(amd, key, abi.MILAN), collateral)
    except errors.EvidenceError as exc:
        assert '\n' not in str(exc)
        return
    assert not result.verified or result.status == 'contraindicated'
