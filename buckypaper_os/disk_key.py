"""Bind an empty Barbican secret to one server and store a disk key in it.

The steps of doc/vault.md over Barbican's REST API, with a keystoneauth
session; ``openstack confidential key bind`` and the Heat resource
``OS::Buckypaper::DiskKeyBinding`` both call :func:`bind`. The release
policy goes into the secret's metadata before the payload (the Vault
copies it when the payload arrives and authenticates it with the
ciphertext), Nitride's service user gets read access through the secret's
ACL, and then a random key is stored. Nobody reads it back through
Barbican's API: the Vault releases it only sealed to the server's TEE
after Nitride verified its evidence. The key leaves this process only
into Barbican and is never logged.
"""

import json
import os
import reprlib
import typing

from keystoneauth1 import exceptions as ks_exceptions
from oslo_utils import uuidutils

from buckypaper_os.barbican_plugin import policy

#: Key lengths: 64 bytes for AES-256-XTS, 32 for AES-256-GCM.
KEY_BYTES = (64, 32)


def secret_url(ref: str, endpoint: typing.Callable[[], str]) -> str:
    """The URL of a secret given by href or ID, under Barbican's endpoint.

    ``endpoint`` returns Barbican's endpoint from the service catalog. An
    href gives only its secret ID: the user's token and the key go to the
    catalog's Barbican, never to the host an href names. ValueError when
    ``ref`` names no secret.
    """
    secret_id = ref.rstrip('/').rsplit('/', 1)[-1]
    if not uuidutils.is_uuid_like(secret_id):
        raise ValueError('not a Barbican secret href or ID: %s'
                         % reprlib.repr(ref))
    return '%s/v1/secrets/%s' % (endpoint().rstrip('/'), secret_id)


def release_policy(instance: str, tee: typing.Optional[str] = None,
                   min_tcb: typing.Optional[dict] = None
                   ) -> typing.Dict[str, str]:
    """The secret metadata that binds a key to ``instance``.

    Checked with the Vault's own parser, so what the Vault would refuse
    is refused here before anything is sent (:class:`policy.PolicyError`).
    """
    metadata = {policy.PREFIX + 'instance': instance}
    if tee:
        metadata[policy.PREFIX + 'tee'] = tee
    if min_tcb is not None:
        metadata[policy.PREFIX + 'min-tcb'] = json.dumps(min_tcb,
                                                         sort_keys=True)
    # No buckypaper-project key, so the project is not consulted.
    policy.from_metadata(metadata, project_id='')
    return metadata


def bind(session, url: str, instance: str,
         tee: typing.Optional[str] = None,
         min_tcb: typing.Optional[dict] = None,
         nitride_user: typing.Optional[str] = None,
         key_bytes: int = 64) -> typing.Dict[str, str]:
    """Bind the empty secret at ``url`` to ``instance``; its metadata.

    ``session`` is a keystoneauth session of the secret's owner; a
    refusal of Barbican (e.g. 409: the secret already has a payload)
    raises keystoneauth's HTTP error.
    """
    if key_bytes not in KEY_BYTES:
        raise ValueError('a disk key has %s bytes' % ' or '.join(
            str(n) for n in KEY_BYTES))
    metadata = release_policy(instance, tee, min_tcb)
    session.put(url + '/metadata', json={'metadata': metadata})
    if nitride_user:
        session.put(url + '/acl', json={'read': {
            'users': [nitride_user], 'project-access': True}})
    key = bytearray(os.urandom(key_bytes))
    try:
        session.put(url, data=bytes(key), log=False, headers={
            'Content-Type': 'application/octet-stream'})
    finally:
        key[:] = bytes(len(key))
    return metadata


def revoke(session, url: str) -> bool:
    """Remove the secret's ACL; False when the secret is already gone.

    Nitride's service user then cannot read the secret, so no server gets
    the key any more.
    """
    try:
        session.delete(url + '/acl')
    except ks_exceptions.NotFound:
        return False
    return True
