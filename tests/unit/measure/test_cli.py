"""``buckypaper-measure`` on the command line."""

import json

import pytest

from buckypaper_os.attestation.snp import kernel_hashes
from buckypaper_os.attestation.snp import measure as snp_measure
from buckypaper_os.attestation.tdx import measure as tdx_measure
from buckypaper_os.cli import measure as cli
from tests.unit.measure import firmware


@pytest.fixture
def files(tmp_path):
    sev = tmp_path / 'ovmf.fd'
    sev.write_bytes(firmware.sev_image())
    tdvf = tmp_path / 'tdvf.fd'
    tdvf.write_bytes(firmware.tdvf_image())
    kernel = tmp_path / 'vmlinuz'
    kernel.write_bytes(b'kernel' * 100)
    initrd = tmp_path / 'initrd'
    initrd.write_bytes(b'initrd' * 50)
    return {'sev': str(sev), 'tdvf': str(tdvf), 'kernel': str(kernel),
            'initrd': str(initrd)}


def run(capsys, *argv):
    try:
        code = cli.main(list(argv))
    except SystemExit as exc:
        code = exc.code
    out, err = capsys.readouterr()
    return code, out, err


def test_sev_snp_hex(capsys, files):
    code, out, err = run(capsys, 'sev-snp', '--firmware', files['sev'],
                         '--vcpus', '4', '--cpu-model', 'EPYC-v4')
    assert (code, err) == (0, '')
    assert out.strip() == snp_measure.launch_digest(
        files['sev'], 4, cpu_model='EPYC-v4').hex()


def test_sev_snp_kernel_json(capsys, files):
    code, out, err = run(capsys, 'sev-snp', '--firmware', files['sev'],
                         '--vcpus', '2', '--cpu-model', 'EPYC-Milan',
                         '--kernel', files['kernel'], '--initrd',
                         files['initrd'], '--append', 'console=ttyS0',
                         '--guest-policy', '0x30000', '-f', 'json')
    assert (code, err) == (0, '')
    result = json.loads(out)
    hashes = kernel_hashes.KernelHashes.from_files(
        files['kernel'], files['initrd'], 'console=ttyS0')
    assert result['measurement'] == snp_measure.launch_digest(
        files['sev'], 2, cpu_model='EPYC-Milan',
        kernel_hashes=hashes).hex()
    assert result['kernel_hashes']['kernel'] == hashes.kernel.hex()
    assert result['guest_policy'] == '0x30000'
    assert result['tee'] == 'sev-snp'


def test_format_before_the_command(capsys, files):
    code, out, _ = run(capsys, '-f', 'json', 'tdx', '--firmware',
                       files['tdvf'])
    assert code == 0
    assert json.loads(out)['mrtd'] == tdx_measure.mrtd(files['tdvf']).hex()


def test_tdx_hex(capsys, files):
    code, out, err = run(capsys, 'tdx', '--firmware', files['tdvf'],
                         '--page-add-order', 'two-pass')
    assert (code, err) == (0, '')
    assert out.strip() == tdx_measure.mrtd(files['tdvf'], 'two-pass').hex()


@pytest.mark.parametrize('argv', [
    ('sev-snp', '--firmware', '{tdvf}', '--vcpus', '1', '--cpu-model',
     'EPYC-v4'),
    ('sev-snp', '--firmware', '{missing}', '--vcpus', '1', '--cpu-model',
     'EPYC-v4'),
    ('sev-snp', '--firmware', '{sev}', '--vcpus', '0', '--cpu-model',
     'EPYC-v4'),
    ('sev-snp', '--firmware', '{sev}', '--vcpus', 'x', '--cpu-model',
     'EPYC-v4'),
    ('sev-snp', '--firmware', '{sev}', '--vcpus', '1', '--cpu-model',
     'Skylake'),
    ('sev-snp', '--firmware', '{sev}', '--vcpus', '1', '--cpu-model',
     'EPYC-v4', '--guest-policy', '0x0'),
    ('sev-snp', '--firmware', '{sev}', '--vcpus', '1', '--cpu-model',
     'EPYC-v4', '--guest-policy', '0xb0000'),
    ('sev-snp', '--firmware', '{sev}', '--vcpus', '1', '--cpu-model',
     'EPYC-v4', '--append', 'ro'),
    ('sev-snp', '--firmware', '{sev}', '--vcpus', '1', '--cpu-model',
     'EPYC-v4', '--kernel', '{missing}'),
    ('tdx', '--firmware', '{sev}'),
    ('tdx',),
    ('nope',),
])
def test_bad_input_exits_2_with_one_line(capsys, files, tmp_path, argv):
    names = dict(files, missing=str(tmp_path / 'missing'))
    code, out, err = run(capsys, *(a.format(**names) for a in argv))
    assert code == 2
    assert out == ''
    assert err.count('\n') == 1 and 'Traceback' not in err


def test_compute_is_what_main_prints(capsys, files):
    argv = ['tdx', '--firmware', files['tdvf'], '-f', 'json']
    code, out, _ = run(capsys, *argv)
    assert code == 0
    result = cli.compute(cli.build_parser().parse_args(argv))
    assert result == json.loads(out)
    assert result['mrtd'] == tdx_measure.mrtd(files['tdvf']).hex()
