"""Exit codes and error output of ``buckypaper-attest``."""

import json

import pytest

from buckypaper_os.cli import attest


def _run(capsys, argv):
    code = attest.main(argv)
    out, err = capsys.readouterr()
    return code, out, err


def test_unreadable_evidence_is_exit_2(capsys, tmp_path):
    code, out, err = _run(capsys, ['verify', '--evidence',
                                   str(tmp_path / 'missing.bin')])
    assert code == 2 and out == ''
    assert err.startswith('buckypaper-attest: error: cannot read evidence')
    assert 'Traceback' not in err and err.count('\n') == 1


@pytest.mark.parametrize('payload', [b'', b'\x00' * 10, b'garbage' * 100])
def test_malformed_evidence_is_exit_2(capsys, tmp_path, payload):
    path = tmp_path / 'evidence.bin'
    path.write_bytes(payload)
    code, out, err = _run(capsys, ['verify', '--evidence', str(path)])
    assert code == 2 and out == ''
    assert err.startswith('buckypaper-attest: error: ')
    assert err.count('\n') == 1


@pytest.mark.parametrize('tee', ['sev-snp', 'tdx'])
def test_malformed_evidence_with_named_tee_is_exit_2(capsys, tmp_path, tee):
    path = tmp_path / 'evidence.bin'
    path.write_bytes(b'\x02' + b'\x00' * 100)
    code, out, err = _run(capsys, ['verify', '--evidence', str(path),
                                   '--tee', tee])
    assert code == 2 and out == '' and err.count('\n') == 1


def test_oversized_evidence_is_exit_2(capsys, tmp_path):
    path = tmp_path / 'evidence.bin'
    path.write_bytes(b'\x00' * (attest.MAX_INPUT + 1))
    code, _, err = _run(capsys, ['verify', '--evidence', str(path)])
    assert code == 2 and 'larger than' in err


def test_bad_time_is_exit_2(capsys, tmp_path):
    path = tmp_path / 'evidence.bin'
    path.write_bytes(b'x')
    with pytest.raises(SystemExit) as exc:
        attest.main(['verify', '--evidence', str(path), '--at', 'yesterday'])
    assert exc.value.code == 2


def test_bad_policy_is_exit_2(capsys, tmp_path):
    evidence = tmp_path / 'evidence.bin'
    evidence.write_bytes(b'x')
    policy = tmp_path / 'policy.json'
    policy.write_text(json.dumps({'allow_debugging': True}))
    code, _, err = _run(capsys, ['verify', '--evidence', str(evidence),
                                 '--policy', str(policy)])
    assert code == 2 and 'unknown policy keys: allow_debugging' in err


@pytest.mark.parametrize('when', ['0001-01-01T00:00:00+01:00',
                                  '9999-12-31T23:59:59-01:00'])
def test_time_out_of_range_is_exit_2(capsys, tmp_path, when):
    path = tmp_path / 'evidence.bin'
    path.write_bytes(b'x')
    with pytest.raises(SystemExit) as exc:
        attest.main(['verify', '--evidence', str(path), '--at', when])
    assert exc.value.code == 2


def test_internal_error_is_exit_2_without_traceback(capsys, tmp_path,
                                                    monkeypatch):
    def broken(*args, **kwargs):
        raise RuntimeError('boom')
    monkeypatch.setattr(attest.attestation, 'verify', broken)
    path = tmp_path / 'evidence.bin'
    path.write_bytes(b'x')
    code, out, err = _run(capsys, ['verify', '--evidence', str(path)])
    assert code == 2 and out == ''
    assert err == ('buckypaper-attest: error: internal error '
                   '(RuntimeError): boom\n')
