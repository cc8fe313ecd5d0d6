"""The launch hint: confidential flavors and their TEE, from extra specs.

Flavors are openstacksdk's own Flavor resources, as Horizon's Nova API
returns them. The panel itself needs a Nova, which this environment has
not: without a compute service in the catalog Horizon hides it (the
browser tests check that).
"""

import pytest

pytest.importorskip('openstack_dashboard')

from openstack.compute.v2 import flavor as sdk_flavor  # noqa: E402

from buckypaper_os.dashboard import flavors  # noqa: E402


def _flavor(name, **extra_specs):
    return sdk_flavor.Flavor(id=name, name=name, vcpus=2, ram=4096,
                             extra_specs=extra_specs)


def test_confidential_flavors_are_marked_with_their_tee():
    rows = [flavors.row(f) for f in (
        _flavor('snp', **{'hw:mem_encryption_model': 'amd-sev-snp',
                          'buckypaper:firmware': 'ovmf-snp',
                          'buckypaper:disk_key': 'generate'}),
        _flavor('tdx', **{'hw:mem_encryption_model': 'intel-tdx',
                          'buckypaper:attestation': 'disabled'}),
        _flavor('plain'),
        _flavor('sev', **{'hw:mem_encryption_model': 'amd-sev'}))]
    by_name = {row['name']: row for row in rows}
    assert by_name['snp'] == {
        'id': 'snp', 'name': 'snp', 'vcpus': 2, 'ram': 4096,
        'tee': 'sev-snp', 'attestation': 'required',
        'firmware': 'ovmf-snp', 'disk_key': True}
    assert (by_name['tdx']['tee'], by_name['tdx']['attestation'],
            by_name['tdx']['disk_key']) == ('tdx', 'disabled', False)
    for name in ('plain', 'sev'):
        assert by_name[name]['tee'] is None
        assert by_name[name]['attestation'] is None


def test_hint_of_odd_values():
    assert flavors.hint({'hw:mem_encryption_model': 'AMD-SEV-SNP'})[
        'tee'] == 'sev-snp'
    assert flavors.hint({'buckypaper:firmware': 'x'})['tee'] is None
