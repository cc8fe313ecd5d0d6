"""The operator's files: [attestation] policy_file and collateral_cache_dir.

Simulated SEV-SNP guests attest to an in-process Nitride; the CRLs are
signed by the simulated ARK, as AMD KDS signs its own.
"""

import datetime
import json

import pytest

from buckypaper_os import attestation
from buckypaper_os.attestation import collateral_dir
from buckypaper_os.attestation.snp import validate as snp_validate
from buckypaper_os.nitride_service import appraisal
from buckypaper_os.nitride_service import engine as engine_mod
from buckypaper_os.nitride_service import verifier
from tests.unit.nitride import guests
from tests.unit.nitride.test_engine import _attest
from tests.unit.nitride.test_engine import _instance
from tests.unit.nitride.test_engine import _refused
from tests.unit.nitride.test_engine import _register
from tests.unit.nitride.test_engine import PROJECT


@pytest.fixture
def configure(nitride_conf):
    """Set ``[attestation]`` options; an engine built with them."""
    names = []

    def build(**options):
        for name, value in options.items():
            nitride_conf.set_override(name, value, 'attestation')
            names.append(name)
        return engine_mod.Engine(nitride_conf)

    yield build
    for name in names:
        nitride_conf.clear_override(name, 'attestation')


def _guest(engine, pki):
    instance = _instance()
    _register(engine, instance)
    return guests.Guest(pki, instance, PROJECT)


def _policy_file(tmp_path, document) -> str:
    path = tmp_path / 'policy.json'
    path.write_text(json.dumps(document))
    return str(path)


def test_policy_file_is_the_floor(configure, pki, tmp_path):
    """Documents arrive over RPC: they may tighten the file, not loosen."""
    engine = configure(policy_file=_policy_file(
        tmp_path, {'min_tcb': {'snp': 200}}))
    exc = _refused(_attest, engine, _guest(engine, pki))
    assert any('below minimum 200' in r for r in exc.reasons)
    engine.set_policy('project', PROJECT, {'min_tcb': {'snp': 1}})
    exc = _refused(_attest, engine, _guest(engine, pki))
    assert any('below minimum 200' in r for r in exc.reasons)


def test_documents_tighten_the_file(configure, pki, tmp_path):
    engine = configure(policy_file=_policy_file(
        tmp_path, {'min_tcb': {'snp': 1}}))
    assert _attest(engine, _guest(engine, pki))['status'] == 'affirming'
    engine.set_policy('project', PROJECT, {'min_tcb': {'snp': 200}})
    exc = _refused(_attest, engine, _guest(engine, pki))
    assert any('below minimum 200' in r for r in exc.reasons)


def test_policy_file_is_the_floor_of_verify(configure, pki, tmp_path):
    engine = configure(policy_file=_policy_file(
        tmp_path, {'min_tcb': {'snp': 200}}))
    report, certs = _guest(engine, pki).evidence(bytes(64))
    assert engine.verify(report, certs=certs)[
        'status'] == 'contraindicated'
    assert engine.verify(report, certs=certs, policy={
        'min_tcb': {'snp': 0}})['status'] == 'contraindicated'
    unbounded = configure(policy_file=None)
    assert unbounded.verify(report, certs=certs)['status'] == 'affirming'


@pytest.mark.parametrize('content', [
    '{"min_tcb": {"snp": "high"}}', '{"unknown_key": 1}', '[]', '{'])
def test_a_bad_policy_file_stops_nitride(configure, tmp_path, content):
    path = tmp_path / 'policy.json'
    path.write_text(content)
    with pytest.raises(appraisal.PolicyError, match='policy file'):
        configure(policy_file=str(path))


def _cache(tmp_path, pki, crl=None):
    """A collateral cache holding ``crl`` (DER) for the PKI's product."""
    root = tmp_path / 'collateral'
    (root / 'vcek' / 'v1' / pki.product).mkdir(parents=True)
    if crl is not None:
        (root / 'vcek' / 'v1' / pki.product / 'crl').write_bytes(crl)
    return str(root)


def _attest_with(engine, guest, collateral):
    nonce = engine_mod.b64decode(
        engine.challenge(guest.instance_uuid)['nonce'], 'nonce', 64)
    report, certs = guest.evidence(nonce)
    return engine.attest(guest.instance_uuid, nonce, report, certs,
                         guest.public_key, collateral)


def test_cached_crl_is_required(configure, pki, tmp_path):
    engine = configure(collateral_cache_dir=_cache(tmp_path, pki))
    exc = _refused(_attest, engine, _guest(engine, pki))
    assert snp_validate.NO_CRL in exc.reasons


def test_cached_crl_admits(configure, pki, tmp_path):
    engine = configure(collateral_cache_dir=_cache(tmp_path, pki,
                                                   pki.crl()))
    assert _attest(engine, _guest(engine, pki))['status'] == 'affirming'


def test_guest_cannot_replace_the_cached_crl(configure, pki, tmp_path):
    """A revoked VCEK stays revoked whatever CRL the guest sends."""
    engine = configure(collateral_cache_dir=_cache(
        tmp_path, pki, pki.crl(revoked=[pki.vcek()])))
    exc = _refused(_attest_with, engine, _guest(engine, pki),
                   {'crl.der': pki.crl()})
    assert any(r.endswith('is revoked') for r in exc.reasons)


def test_without_a_cache_the_guests_crl_is_all_there_is(engine, pki):
    """Documented: without a cache a guest may leave its CRL out."""
    guest = _guest(engine, pki)
    assert _attest(engine, guest)['status'] == 'affirming'
    exc = _refused(_attest_with, engine, guest,
                   {'crl.der': pki.crl(revoked=[pki.vcek()])})
    assert any(r.endswith('is revoked') for r in exc.reasons)


def test_stale_cached_crl_is_refused(configure, pki, tmp_path):
    crl = pki.crl(lifetime=datetime.timedelta(seconds=-1))
    engine = configure(collateral_cache_dir=_cache(tmp_path, pki, crl))
    exc = _refused(_attest, engine, _guest(engine, pki))
    assert any('CRL' in r and 'expired' in r for r in exc.reasons)


def test_missing_cache_directory_stops_nitride(configure, tmp_path):
    with pytest.raises(attestation.EvidenceError, match='not a directory'):
        configure(collateral_cache_dir=str(tmp_path / 'absent'))


def test_only_certificates_come_from_the_guest(tmp_path):
    (tmp_path / 'tcb_info.json').write_bytes(b'operator')
    guest = {'vcek.pem': b'guest vcek', 'tcb_info.json': b'guest',
             'crl.der': b'guest crl', 'pck_crl.der': b'guest crl'}
    files = verifier.OperatorCollateral(
        collateral_dir.CollateralDir(str(tmp_path)), guest)
    assert files.read('vcek.pem') == b'guest vcek'
    assert files.read('tcb_info.json') == b'operator'
    assert files.read('crl.der') is None
    assert files.read('pck_crl.der') is None
