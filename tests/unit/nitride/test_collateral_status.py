"""``buckypaper-nitride-manage collateral check`` and what it reads."""

import datetime
import subprocess

from buckypaper_os.attestation.tdx import collateral as tdx_collateral
from buckypaper_os.nitride_service import collateral_status
from tests import vectors

NOW = datetime.datetime.now(datetime.timezone.utc)


def _cache(tmp_path, pki, tdx_case=None):
    """A cache with a fresh SNP CRL, a junk one, and a TDX platform's."""
    root = tmp_path / 'collateral'
    (root / 'vcek' / 'v1' / pki.product).mkdir(parents=True)
    (root / 'vcek' / 'v1' / pki.product / 'crl').write_bytes(pki.crl())
    (root / 'vcek' / 'v1' / pki.product / 'cert_chain').write_bytes(
        pki.cert_chain())
    if tdx_case is not None:
        platform = root / 'tdx' / 'v4' / tdx_case.expected['claims']['fmspc']
        platform.mkdir(parents=True)
        for name in tdx_collateral.FILES:
            (platform / name).write_bytes(tdx_case.read(name))
    return root


def _check(tmp_path, root, *extra):
    config = tmp_path / 'nitride.conf'
    config.write_text('[attestation]\ncollateral_cache_dir = %s\n' % root
                      if root else '')
    return subprocess.run(['buckypaper-nitride-manage', '--config-file',
                           str(config), 'collateral', 'check', *extra],
                          capture_output=True, text=True, timeout=60)


def test_fresh_crl(tmp_path, pki):
    (entry,) = collateral_status.entries(str(_cache(tmp_path, pki)))
    assert entry.path == 'vcek/v1/%s/crl' % pki.product
    assert entry.problem is None
    assert datetime.timedelta(days=6) < entry.next_update - NOW
    assert collateral_status.state(entry, NOW, 1) == (True, 'ok')
    fine, text = collateral_status.state(entry, NOW, 30)
    assert not fine and text.startswith('expires in ')
    assert collateral_status.state(
        entry, NOW + datetime.timedelta(days=8), 1) == (False, 'expired')


def test_crl_without_next_update_fails_the_check():
    entry = collateral_status.Entry('vcek/v1/Milan/crl', None, None)
    assert collateral_status.state(entry, NOW, 1) == (
        False, 'no nextUpdate: refused')


def test_unreadable_files_are_reported(tmp_path, pki):
    root = _cache(tmp_path, pki)
    (root / 'vlek' / 'v1' / pki.product).mkdir(parents=True)
    (root / 'vlek' / 'v1' / pki.product / 'crl').write_bytes(b'junk')
    (root / 'tcb_info.json').write_bytes(b'{"tcbInfo": 1}')
    found = {e.path: e for e in collateral_status.entries(str(root))}
    assert set(found) == {'tcb_info.json', 'vcek/v1/%s/crl' % pki.product,
                          'vlek/v1/%s/crl' % pki.product}
    for path in ('tcb_info.json', 'vlek/v1/%s/crl' % pki.product):
        assert found[path].next_update is None and found[path].problem
        assert collateral_status.state(found[path], NOW, 1)[0] is False


@vectors.needs_vectors
def test_tdx_documents_dated_by_next_update(tmp_path, pki):
    case = vectors.Case('tdx-v4-uptodate')
    root = _cache(tmp_path, pki, case)
    found = {e.path.rsplit('/', 1)[-1]: e
             for e in collateral_status.entries(str(root))}
    assert set(found) == {'crl', 'tcb_info.json', 'qe_identity.json',
                          'pck_crl.der', 'root_ca_crl.der'}
    # The vector's collateral was valid at its time, not a year later.
    for name in ('tcb_info.json', 'qe_identity.json', 'pck_crl.der'):
        assert found[name].problem is None
        assert case.at < found[name].next_update < (
            case.at + datetime.timedelta(days=366))


def test_command_exit_status(tmp_path, pki):
    root = _cache(tmp_path, pki)
    ok = _check(tmp_path, root, '--days', '1')
    assert ok.returncode == 0, ok.stderr
    assert 'vcek/v1/%s/crl  ok' % pki.product in ok.stdout
    soon = _check(tmp_path, root)  # expires within the default 7 days
    assert soon.returncode == 1 and 'FIX' in soon.stdout
    assert _check(tmp_path, None).returncode == 1
    (root / 'vcek' / 'v1' / pki.product / 'crl').unlink()
    empty = _check(tmp_path, root)
    assert empty.returncode == 1 and 'no CRL or TCB document' in empty.stderr
