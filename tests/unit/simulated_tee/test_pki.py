"""The simulated PKI: AMD's shape, obviously simulated, persisted safely."""

import os
import shutil
import stat

from cryptography.hazmat.primitives.asymmetric import padding
from cryptography import x509
import pytest

from buckypaper_os.attestation import roots
from buckypaper_os.attestation.snp import abi
from buckypaper_os.attestation.snp import certs
from buckypaper_os.attestation import x509util
from buckypaper_os.simulated_tee import certificates
from buckypaper_os.simulated_tee import pki as pki_mod

KEY_FILES = ('ark.key', 'ask.key', 'vcek.key')


def private_numbers(pki):
    return [k.private_numbers() for k in (pki._ark_key, pki._ask_key,
                                          pki.vcek_key)]


def test_chain_has_amd_shape_and_simulated_names(pki):
    assert x509util.signed_by(pki.ark, pki.ark)
    assert x509util.signed_by(pki.ask, pki.ark)
    assert x509util.signed_by(pki.vcek(), pki.ask)
    for cert in (pki.ark, pki.ask, pki.vcek()):
        assert isinstance(cert.signature_algorithm_parameters, padding.PSS)
        org = cert.subject.get_attributes_for_oid(
            x509.NameOID.ORGANIZATION_NAME)[0].value
        assert 'SIMULATED' in org and 'SIMULATED' in x509util.common_name(
            cert)
    assert pki.ark.public_key().key_size == 4096
    signer = certs.signing_cert(pki.vcek())
    assert (signer.kind, signer.product, signer.hwid) == (
        'vcek', abi.MILAN, pki.chip_id)
    assert signer.tcb == pki.tcb
    assert pki.cert_chain() == (pki.public_trust_files()['ask.pem']
                                + pki.public_trust_files()['ark.pem'])


def test_trust_store_holds_only_its_product(pki):
    store = pki.trust_store()
    assert store.get(abi.MILAN).ark == pki.ark
    assert store.get(abi.MILAN).ask == pki.ask
    assert store.get(abi.GENOA) is None


def test_vcek_for_another_tcb_is_issued_once(pki):
    tcb = dict(pki.tcb, ucode=1)
    vcek = pki.vcek(tcb=tcb)
    assert pki.vcek(tcb=tcb) is vcek
    assert certs.signing_cert(vcek).tcb == tcb
    assert x509util.signed_by(vcek, pki.ask)
    with pytest.raises(pki_mod.PkiError, match='TCB has components'):
        pki.vcek(tcb={'bl': 1})
    with pytest.raises(pki_mod.PkiError, match='64 bytes'):
        pki.vcek(chip_id=b'\x01' * 8)


def test_saved_pki_reloads_to_the_same_keys(pki, pki_dir):
    loaded = pki_mod.SimulatedPki.load(pki_dir)
    assert private_numbers(loaded) == private_numbers(pki)
    assert (loaded.ark, loaded.ask, loaded.vcek()) == (pki.ark, pki.ask,
                                                       pki.vcek())
    assert (loaded.product, loaded.chip_id, loaded.tcb) == (
        pki.product, pki.chip_id, pki.tcb)
    with open(os.path.join(pki_dir, 'cert_chain.pem'), 'rb') as f:
        assert f.read() == pki.cert_chain()


def test_key_files_are_0600(pki_dir):
    assert stat.S_IMODE(os.stat(pki_dir).st_mode) == 0o700
    for name in KEY_FILES:
        assert stat.S_IMODE(os.stat(os.path.join(pki_dir, name)).st_mode) \
            == 0o600
    assert sorted(os.listdir(pki_dir)) == sorted(
        KEY_FILES + ('ark.pem', 'ask.pem', 'vcek.pem', 'cert_chain.pem'))


def test_open_loads_an_existing_pki(pki, pki_dir):
    before = {n: os.stat(os.path.join(pki_dir, n)).st_mtime_ns
              for n in os.listdir(pki_dir)}
    assert pki_mod.SimulatedPki.open(pki_dir).ark == pki.ark
    assert pki_mod.SimulatedPki.open(pki_dir, abi.MILAN).ark == pki.ark
    assert before == {n: os.stat(os.path.join(pki_dir, n)).st_mtime_ns
                      for n in os.listdir(pki_dir)}
    with pytest.raises(pki_mod.PkiError, match='holds a Milan PKI'):
        pki_mod.SimulatedPki.open(pki_dir, abi.GENOA)


def test_save_never_overwrites(pki, pki_dir):
    with pytest.raises(pki_mod.PkiError, match='cannot save'):
        pki.save(pki_dir)


def test_key_readable_by_others_is_refused(pki_dir, tmp_path):
    copy = str(tmp_path / 'pki')
    shutil.copytree(pki_dir, copy)
    os.chmod(os.path.join(copy, 'ask.key'), 0o644)
    with pytest.raises(pki_mod.PkiError, match='ask.key is accessible'):
        pki_mod.SimulatedPki.load(copy)


def test_mismatched_key_is_refused(pki_dir, tmp_path):
    copy = str(tmp_path / 'pki')
    shutil.copytree(pki_dir, copy)
    shutil.copy(os.path.join(copy, 'ark.key'), os.path.join(copy, 'ask.key'))
    with pytest.raises(pki_mod.PkiError, match='ask.key .* not the key'):
        pki_mod.SimulatedPki.load(copy)


def test_missing_directory_is_refused(tmp_path):
    with pytest.raises(pki_mod.PkiError, match='cannot read ark.pem'):
        pki_mod.SimulatedPki.load(str(tmp_path / 'nothing'))
    with pytest.raises(pki_mod.PkiError, match='cannot read ark.pem'):
        pki_mod.load_trust(str(tmp_path))


def test_load_trust_needs_a_simulated_root(tmp_path):
    for role in ('ark', 'ask'):
        (tmp_path / (role + '.pem')).write_bytes(
            certificates.pem(roots.amd(role, abi.MILAN)))
    with pytest.raises(pki_mod.PkiError, match='not a simulated ARK'):
        pki_mod.load_trust(str(tmp_path))


def test_load_trust_needs_the_ask_of_the_ark(pki, tmp_path):
    (tmp_path / 'ark.pem').write_bytes(pki.public_trust_files()['ark.pem'])
    (tmp_path / 'ask.pem').write_bytes(
        certificates.pem(roots.amd('ask', abi.MILAN)))
    with pytest.raises(pki_mod.PkiError, match='not a self-signed ARK'):
        pki_mod.load_trust(str(tmp_path))


def test_unknown_product_is_refused():
    with pytest.raises(pki_mod.PkiError, match='unknown product'):
        pki_mod.SimulatedPki.generate('Naples')
