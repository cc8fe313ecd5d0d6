"""Exported attestation records re-verify offline, and tampering shows."""

import copy
import json
import subprocess
import uuid

import pytest

from buckypaper_os.nitride_service import engine as engine_mod
from buckypaper_os.nitride_service import records
from tests.unit.nitride import guests
from tests import vectors

PROJECT = 'project-r'


@pytest.fixture
def export(engine, pki):
    instance = str(uuid.uuid4())
    engine.register(instance, PROJECT, 'sev-snp', [guests.MEASUREMENT.hex()])
    guest = guests.Guest(pki, instance, PROJECT)
    for debug in (False, True):
        nonce = engine_mod.b64decode(engine.challenge(instance)['nonce'],
                                     'nonce', 64)
        if debug:
            guest = guests.Guest(pki, instance, PROJECT,
                                 policy=0x30000 | 1 << 19)
        report, certs = guest.evidence(nonce)
        try:
            engine.attest(instance, nonce, report, certs, guest.public_key)
        except engine_mod.Refused:
            assert debug
    return engine.export(instance_uuid=instance)


def test_records_hold_with_the_simulated_roots(export, pki_dir):
    findings = records.check(export, pki_dir)
    assert [(f['status'], f['ok']) for f in findings] == [
        ('contraindicated', True), ('affirming', True)]


def test_simulated_records_are_flagged_without_its_roots(export):
    findings = records.check(export)
    assert not any(f['ok'] for f in findings)
    assert all('simulated TEE evidence: it does not verify against vendor '
               'roots' in f['problems'] for f in findings)


@pytest.mark.parametrize('tamper, problem', [
    (lambda r: r.update(status='warning'),
     'token TEE, status or claims are not the record\'s'),
    (lambda r: r['claims'].update(vmpl=3),
     'evidence claims are not the record\'s'),
    (lambda r: r.update(token=r['token'][:-6] + 'AAAAAA'),
     'token: ES384 signature invalid'),
    (lambda r: r.update(instance_uuid=str(uuid.uuid4())),
     'token buckypaper.instance is not the record\'s'),
    (lambda r: r.update(token=None),
     'an accepted attestation without its token'),
    (lambda r: r.update(evidence=None), 'the record carries no evidence'),
])
def test_tampered_records_are_caught(export, pki_dir, tamper, problem):
    changed = copy.deepcopy(export)
    index = [r['status'] for r in changed['attestations']].index('affirming')
    tamper(changed['attestations'][index])
    finding = records.check(changed, pki_dir)[index]
    assert not finding['ok'] and problem in finding['problems']


def test_records_signed_by_another_key_fail(export, pki_dir):
    other = copy.deepcopy(export)
    other['jwks'] = {'keys': []}
    finding = records.check(other, pki_dir)[1]
    assert finding['problems'] == ['token: token signed by an unknown key']


@vectors.needs_vectors
def test_refused_real_evidence_reverifies_against_vendor_roots(engine):
    case = vectors.Case('snp-genoa-v3')
    instance = str(uuid.uuid4())
    engine.register(instance, PROJECT, 'sev-snp', ['ab' * 48])
    nonce = engine_mod.b64decode(engine.challenge(instance)['nonce'],
                                 'nonce', 64)
    with pytest.raises(engine_mod.Refused):
        engine.attest(instance, nonce, case.evidence, case.certs, b'k' * 32)
    (finding,) = records.check(engine.export(instance_uuid=instance))
    assert finding == {'id': finding['id'], 'instance_uuid': instance,
                       'status': 'contraindicated', 'simulated': False,
                       'ok': True, 'problems': []}


def test_export_command_and_offline_check(export, engine, nitride_conf,
                                          tmp_path, pki_dir):
    instance = export['attestations'][0]['instance_uuid']
    config = tmp_path / 'nitride.conf'
    config.write_text('[database]\nconnection = %s\n[nitride]\n'
                      'token_key_file = %s\n' % (
                          nitride_conf.database.connection,
                          nitride_conf.nitride.token_key_file))
    out = tmp_path / 'export.json'
    subprocess.run(['buckypaper-nitride-manage', '--config-file',
                    str(config), 'export', '--instance', instance,
                    '--output', str(out)], check=True, timeout=60)
    assert len(json.loads(out.read_text())['attestations']) == 2
    ok = subprocess.run(['buckypaper-attest', 'records', str(out),
                         '--simulated-trust-dir', pki_dir],
                        capture_output=True, text=True, timeout=60)
    assert ok.returncode == 0, ok.stdout
    assert all(f['ok'] for f in json.loads(ok.stdout))
    flagged = subprocess.run(['buckypaper-attest', 'records', str(out)],
                             capture_output=True, text=True, timeout=60)
    assert flagged.returncode == 1
    (tmp_path / 'bad.json').write_text('{"attestations": 1}')
    bad = subprocess.run(['buckypaper-attest', 'records',
                          str(tmp_path / 'bad.json')],
                         capture_output=True, text=True, timeout=60)
    assert bad.returncode == 2
    assert bad.stderr.startswith('buckypaper-attest: error: cannot use')
