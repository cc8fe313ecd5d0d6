"""An instance's disk key, created in the Vault and bound to the instance.

Independent of Nova: the caller passes a python-barbicanclient v1 client
built with the user's token. :func:`create` follows doc/vault.md: a secret
without payload, then the release policy in its metadata
(:mod:`buckypaper_os.barbican_plugin.policy`), then read access for
Nitride's service user through the secret's ACL, and only then a random
payload, which the Vault seals with the policy. A failure at any step
deletes the secret and raises :class:`DiskKeyError`: no key is left
behind, and none is ever logged or returned.
"""

import json
import os
import typing

from oslo_log import log as logging

LOG = logging.getLogger(__name__)

#: AES-256-XTS, the enclaivelet's default LUKS2 cipher.
KEY_BYTES = 64
TEES = ('sev-snp', 'tdx')


class DiskKeyError(Exception):
    """The disk key was not created (and nothing was left behind)."""


def release_policy(instance_uuid: str, tee: str,
                   min_tcb: typing.Optional[typing.Mapping[str, int]] = None
                   ) -> typing.Dict[str, str]:
    """The secret metadata that binds a key to ``instance_uuid``."""
    if tee not in TEES:
        raise DiskKeyError('unknown TEE %r' % tee)
    metadata = {'buckypaper-instance': instance_uuid,
                'buckypaper-tee': tee}
    if min_tcb:
        metadata['buckypaper-min-tcb'] = json.dumps(dict(min_tcb),
                                                    sort_keys=True)
    return metadata


def create(client, instance_uuid: str, tee: str, reader_user_id: str,
           min_tcb: typing.Optional[typing.Mapping[str, int]] = None
           ) -> str:
    """Create the disk key of ``instance_uuid``; return its secret href.

    ``reader_user_id`` (Nitride's service user) gets read access, which
    the release relay needs: the Vault still releases the key only sealed
    to the attested instance.
    """
    if not reader_user_id:
        raise DiskKeyError("no user id for Nitride's read access")
    metadata = release_policy(instance_uuid, tee, min_tcb)
    try:
        ref = client.secrets.create(
            name='buckypaper disk key of %s' % instance_uuid,
            secret_type='symmetric', algorithm='aes',
            bit_length=KEY_BYTES * 8, mode='xts').store()
    except Exception as exc:
        raise DiskKeyError('cannot create the secret: %s' % _why(exc)
                           ) from None
    try:
        client.secrets.set_secret_metadata(ref, metadata)
        client.acls.create(entity_ref=ref, users=[reader_user_id],
                           project_access=True).submit()
        _store_random_payload(client, ref)
    except Exception as exc:
        _discard(client, ref)
        raise DiskKeyError('cannot bind and store the disk key: %s'
                           % _why(exc)) from None
    LOG.info('Disk key %s created for instance %s', ref, instance_uuid)
    return ref


def _store_random_payload(client, ref: str) -> None:
    key = bytearray(os.urandom(KEY_BYTES))
    try:
        client.secrets.update(ref, payload=bytes(key))
    finally:
        key[:] = bytes(KEY_BYTES)


def delete(client, ref: str) -> bool:
    """Delete the secret ``ref``; False if it was already gone."""
    try:
        client.secrets.delete(ref)
    except Exception as exc:
        if getattr(exc, 'status_code', None) == 404:
            return False
        raise DiskKeyError('cannot delete disk key %s: %s'
                           % (ref, _why(exc))) from None
    return True


def _discard(client, ref: str) -> None:
    try:
        delete(client, ref)
    except DiskKeyError as exc:
        # The secret has no payload (or one nobody can read plainly): it
        # releases nothing, but the operator should remove it.
        LOG.error('Incomplete disk key %s was not deleted: %s', ref, exc)


def _why(exc: Exception) -> str:
    return '%s: %s' % (type(exc).__name__, exc)
