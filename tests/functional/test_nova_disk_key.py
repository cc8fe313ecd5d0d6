"""The Nova driver's disk key module against a real Barbican with the Vault.

:mod:`buckypaper_os.nova_driver.disk_key` on a keystoneauth session of
the user, as the driver uses it (python-barbicanclient creates and
deletes the secret, :func:`buckypaper_os.disk_key.bind` binds it): the
release policy is in the secret's metadata, Nitride's user may read it,
nobody reads the payload plainly, and the attested instance gets it
sealed. Every failure leaves no secret behind.
"""

import uuid

from keystoneauth1 import noauth
from keystoneauth1 import session as ks_session
import pytest

from buckypaper_os.demo import barbican as barbican_mod
from buckypaper_os.nova_driver import disk_key
from tests.functional import conftest
from tests.functional import test_vault_release as release

PROJECT = release.PROJECT
TENANT = release.TENANT


def barbican(vault, headers=TENANT) -> dict:
    """A keystoneauth session as ``headers``' user, and the endpoint."""
    session = ks_session.Session(
        auth=noauth.NoAuth(endpoint=vault.barbican.url),
        additional_headers=headers)
    return {'session': session, 'endpoint': vault.barbican.url}


def secrets_of(vault, headers=TENANT):
    return vault.barbican.json('GET', '/v1/secrets?limit=100',
                               headers)['secrets']


def test_created_key_is_bound_and_released_sealed(vault, pki):
    guest = release.registered(vault, pki)
    client = barbican(vault)
    ref = disk_key.create(instance_uuid=guest.instance_uuid, tee='sev-snp',
                          reader_user_id=conftest.NITRIDE_USER,
                          min_tcb={'snp': 8}, **client)
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

    assert disk_key.delete(ref=ref, **client) is True
    assert disk_key.delete(ref=ref, **client) is False
    release.refused(lambda: vault.barbican.json(
        'GET', '/v1/secrets/%s' % secret, TENANT), 404)


def test_refused_acl_leaves_no_secret(vault):
    # Barbican refuses an ACL user ID longer than 255 characters: the
    # secret (created, with its policy metadata) is deleted again.
    before = secrets_of(vault)
    with pytest.raises(disk_key.DiskKeyError, match='cannot bind'):
        disk_key.create(instance_uuid=str(uuid.uuid4()), tee='tdx',
                        reader_user_id='n' * 256, **barbican(vault))
    assert secrets_of(vault) == before


def test_refused_create_leaves_no_secret(vault):
    # A reader-only user can create nothing: refused at the first step.
    reader = barbican_mod.identity(PROJECT, 'rita', 'reader')
    before = secrets_of(vault)
    with pytest.raises(disk_key.DiskKeyError, match='cannot create'):
        disk_key.create(instance_uuid=str(uuid.uuid4()), tee='sev-snp',
                        reader_user_id=conftest.NITRIDE_USER,
                        **barbican(vault, reader))
    assert secrets_of(vault) == before


@pytest.mark.parametrize('tee, reader, min_tcb, message', [
    ('sev', conftest.NITRIDE_USER, None, 'buckypaper-tee'),
    ('tdx', conftest.NITRIDE_USER, {'tee_tcb_svn_0': 70000}, 'min-tcb'),
    ('sev-snp', '', None, 'read access')])
def test_bad_arguments_fail_before_barbican(vault, tee, reader, min_tcb,
                                            message):
    before = secrets_of(vault)
    with pytest.raises(disk_key.DiskKeyError, match=message):
        disk_key.create(instance_uuid=str(uuid.uuid4()), tee=tee,
                        reader_user_id=reader, min_tcb=min_tcb,
                        **barbican(vault))
    assert secrets_of(vault) == before
