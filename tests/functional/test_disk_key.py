"""The driver's disk key module against a real Barbican with the Vault.

python-barbicanclient on a keystoneauth session, as the Nova driver uses
it (with the user's identity), creates an instance's key: the release
policy is in the secret's metadata, Nitride's user may read it, nobody
reads the payload plainly, and the attested instance gets it sealed.
Every failure leaves no secret behind.
"""

import uuid

from barbicanclient import client as barbican_client
from keystoneauth1 import noauth
from keystoneauth1 import session as ks_session
import pytest

from buckypaper_os.demo import barbican as barbican_mod
from buckypaper_os.nova_driver import disk_key
from tests.functional import conftest
from tests.functional import test_vault_release as release

PROJECT = release.PROJECT
TENANT = release.TENANT


def barbican(vault, headers=TENANT):
    """A barbicanclient as the driver builds it, as ``headers``' user."""
    session = ks_session.Session(
        auth=noauth.NoAuth(endpoint=vault.barbican.url),
        additional_headers=headers)
    return barbican_client.Client(session=session,
                                  endpoint=vault.barbican.url)


def secrets_of(vault, headers=TENANT):
    return vault.barbican.json('GET', '/v1/secrets?limit=100',
                               headers)['secrets']


def test_created_key_is_bound_and_released_sealed(vault, pki):
    guest = release.registered(vault, pki)
    client = barbican(vault)
    ref = disk_key.create(client, guest.instance_uuid, 'sev-snp',
                          conftest.NITRIDE_USER, {'snp': 8})
    secret = ref.rsplit('/', 1)[-1]

    metadata = vault.barbican.json('GET', '/v1/secrets/%s/metadata'
                                   % secret, TENANT)['metadata']
    assert metadata == {'buckypaper-instance': guest.instance_uuid,
                        'buckypaper-tee': 'sev-snp',
                        'buckypaper-min-tcb': '{"snp": 8}'}
    acl = vault.barbican.json('GET', '/v1/secrets/%s/acl' % secret, TENANT)
    assert acl['read']['users'] == [conftest.NITRIDE_USER]
    meta = vault.barbican.json('GET', '/v1/secrets/%s' % secret, TENANT)
    assert (meta['algorithm'], meta['bit_length'], meta['mode']) == (
        'aes', 512, 'xts')
    assert meta['content_types'] == {'default': 'application/octet-stream'}

    for headers in (TENANT, release.ADMIN, release.NITRIDE):
        release.refused(lambda: vault.barbican.payload(secret, headers))
    sealed = release.client(vault).release(secret,
                                           release.attest(vault, guest))
    key = guest.pair.open(sealed, guest.instance_uuid, secret)
    assert len(key) == disk_key.KEY_BYTES and len(set(key)) > 8

    other = release.registered(vault, pki)
    release.refused(lambda: release.client(vault).release(
        secret, release.attest(vault, other)))

    assert disk_key.delete(client, ref) is True
    assert disk_key.delete(client, ref) is False
    release.refused(lambda: vault.barbican.json(
        'GET', '/v1/secrets/%s' % secret, TENANT), 404)


def test_invalid_policy_leaves_no_secret(vault):
    # The Vault refuses the payload of a TDX key whose minimum TCB is not
    # a JSON object of small integers: the secret is deleted again.
    before = secrets_of(vault)
    with pytest.raises(disk_key.DiskKeyError, match='cannot bind'):
        disk_key.create(barbican(vault), str(uuid.uuid4()), 'tdx',
                        conftest.NITRIDE_USER, {'tee_tcb_svn_0': 70000})
    assert secrets_of(vault) == before


def test_acl_refused_leaves_no_secret(vault):
    # A reader-only user can create nothing: refused at the first step.
    reader = barbican_mod.identity(PROJECT, 'rita', 'reader')
    before = secrets_of(vault)
    with pytest.raises(disk_key.DiskKeyError, match='cannot create'):
        disk_key.create(barbican(vault, reader), str(uuid.uuid4()),
                        'sev-snp', conftest.NITRIDE_USER)
    assert secrets_of(vault) == before


def test_bad_arguments_fail_before_barbican(vault):
    before = secrets_of(vault)
    with pytest.raises(disk_key.DiskKeyError, match='TEE'):
        disk_key.create(barbican(vault), str(uuid.uuid4()), 'sev',
                        conftest.NITRIDE_USER)
    with pytest.raises(disk_key.DiskKeyError, match='read access'):
        disk_key.create(barbican(vault), str(uuid.uuid4()), 'sev-snp', '')
    assert secrets_of(vault) == before
