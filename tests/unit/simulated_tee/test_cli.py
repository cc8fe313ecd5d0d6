"""``buckypaper-simulated-tee`` from the command line."""

import datetime
import json
import os
import subprocess

import pytest

from buckypaper_os.attestation import policy as policy_mod
from buckypaper_os.attestation.snp import abi
from buckypaper_os.attestation.snp import tee as snp_tee
from buckypaper_os.simulated_tee import cli
from buckypaper_os.simulated_tee import pki as pki_mod

HEX = {'--report-data': '07' * 64, '--host-data': '42' * 32,
       '--measurement': 'ab' * 48}


def run(*args):
    return subprocess.run(['buckypaper-simulated-tee'] + list(args),
                          capture_output=True, text=True, timeout=120)


def report_args(directory, out, **changes):
    values = dict(HEX, **changes)
    return (['report', directory, '--out', out]
            + [a for item in values.items() for a in item])


def test_init_report_and_verify(tmp_path):
    directory, out = str(tmp_path / 'pki'), str(tmp_path / 'report.bin')
    done = run('init', directory)
    assert done.returncode == 0, done.stderr
    assert 'NOT a real AMD root' in done.stdout
    with open(os.path.join(directory, 'ark.pem'), 'rb') as f:
        ark = f.read()
    assert run('init', directory).returncode == 0
    with open(os.path.join(directory, 'ark.pem'), 'rb') as f:
        assert f.read() == ark
    done = run(*report_args(directory, out, **{'--policy': '0x30000'}))
    assert done.returncode == 0, done.stderr
    with open(out, 'rb') as f:
        assert len(f.read()) == abi.REPORT_SIZE
    certs = ['--cert', os.path.join(directory, 'vcek.pem'),
             '--cert', os.path.join(directory, 'cert_chain.pem')]
    # AMD's pinned roots refuse simulated evidence.
    done = subprocess.run(['buckypaper-attest', 'verify', '--evidence', out]
                          + certs, capture_output=True, text=True,
                          timeout=120)
    assert done.returncode == 1
    assert json.loads(done.stdout)['status'] == 'contraindicated'


def test_report_verifies_under_the_simulated_root(pki_dir, tmp_path):
    out = str(tmp_path / 'report.bin')
    assert cli.main(report_args(pki_dir, out)) == 0
    with open(out, 'rb') as f:
        evidence = f.read()
    certs = []
    for name in ('vcek.pem', 'cert_chain.pem'):
        with open(os.path.join(pki_dir, name), 'rb') as f:
            certs.append(f.read())
    result = snp_tee.SNP(trust=pki_mod.load_trust(pki_dir)).appraise(
        evidence, certs=certs, collateral=None,
        at=datetime.datetime.now(datetime.timezone.utc),
        policy=policy_mod.Policy(measurements=(HEX['--measurement'],)))
    assert result.verified and result.status == 'affirming', result.reasons
    assert result.claims['report_data'] == HEX['--report-data']
    assert result.claims['host_data'] == HEX['--host-data']


@pytest.mark.parametrize('changes, message', [
    ({'--report-data': 'zz'}, 'not hex'),
    ({'--host-data': '42' * 31}, 'must be 32 bytes'),
    ({'--measurement': 'ab' * 64}, 'must be 48 bytes'),
    ({'--policy': 'lots'}, 'not an integer'),
    ({'--policy': '-1'}, 'not a 64-bit guest policy'),
])
def test_bad_values_exit_2(pki_dir, tmp_path, capsys, changes, message):
    out = str(tmp_path / 'report.bin')
    with pytest.raises(SystemExit) as exit_:
        cli.main(report_args(pki_dir, out, **changes))
    assert exit_.value.code == 2
    err = capsys.readouterr().err
    assert message in err and err.count('\n') == 1
    assert not os.path.exists(out)


def test_bad_directory_or_output_exit_2(pki_dir, tmp_path, capsys):
    out = str(tmp_path / 'report.bin')
    assert cli.main(report_args(str(tmp_path / 'none'), out)) == 2
    assert capsys.readouterr().err.count('\n') == 1
    assert cli.main(report_args(pki_dir, str(tmp_path / 'no' / 'x'))) == 2
    err = capsys.readouterr().err
    assert 'cannot write' in err and err.count('\n') == 1
    assert cli.main(['init', pki_dir, '--product', 'Genoa']) == 2
    assert 'holds a Milan PKI' in capsys.readouterr().err


def test_bad_input_through_the_console_script(tmp_path):
    done = run(*report_args(str(tmp_path / 'none'), str(tmp_path / 'r')))
    assert done.returncode == 2
    assert done.stderr.count('\n') == 1 and 'cannot read' in done.stderr
    done = run('report', str(tmp_path))
    assert done.returncode == 2 and done.stderr.count('\n') == 1
