"""An instance's disk key, created in the Vault and bound to the instance.

Independent of Nova: the caller passes a keystoneauth session that
carries the user's token. :func:`create` makes a secret without payload
with python-barbicanclient, then binds it with
:func:`buckypaper_os.disk_key.bind` (doc/vault.md: the release policy in
the secret's metadata, read access for Nitride's service user through
the secret's ACL, and only then a random payload, which the Vault seals
with the policy). A failure at any step deletes the secret and raises
:class:`DiskKeyError`: no key is left behind, and none is ever logged or
returned.
"""

import typing

from barbicanclient import client as barbican_client
from oslo_log import log as logging

from buckypaper_os import disk_key as binding_steps

LOG = logging.getLogger(__name__)

#: AES-256-XTS, the enclaivelet's default LUKS2 cipher.
KEY_BYTES = 64


class DiskKeyError(Exception):
    """The disk key was not created (and nothing was left behind)."""


def _client(session, endpoint: typing.Optional[str], interface: str):
    return barbican_client.Client(session=session, endpoint=endpoint,
                                  interface=interface)


def create(session, instance_uuid: str, tee: str, reader_user_id: str,
           min_tcb: typing.Optional[typing.Mapping[str, int]] = None,
           endpoint: typing.Optional[str] = None,
           interface: str = 'public') -> str:
    """Create the disk key of ``instance_uuid``; return its secret href.

    ``reader_user_id`` (Nitride's service user) gets read access, which
    the release relay needs: the Vault still releases the key only sealed
    to the attested instance. ``endpoint`` overrides the key-manager
    endpoint of the session's service catalog.
    """
    min_tcb = dict(min_tcb) if min_tcb else None
    if not reader_user_id:
        raise DiskKeyError("no user id for Nitride's read access")
    try:
        binding_steps.release_policy(instance_uuid, tee, min_tcb)
    except ValueError as exc:
        raise DiskKeyError('invalid release policy: %s' % exc) from None
    try:
        barbican = _client(session, endpoint, interface)
        ref = barbican.secrets.create(
            name='buckypaper disk key of %s' % instance_uuid,
            secret_type='symmetric', algorithm='aes',
            bit_length=KEY_BYTES * 8, mode='xts').store()
    except Exception as exc:
        raise DiskKeyError('cannot create the secret: %s' % _why(exc)
                           ) from None
    try:
        binding_steps.bind(session, ref, instance_uuid, tee, min_tcb,
                           reader_user_id, KEY_BYTES)
    except Exception as exc:
        _discard(barbican, ref)
        raise DiskKeyError('cannot bind and store the disk key: %s'
                           % _why(exc)) from None
    LOG.info('Disk key %s created for instance %s', ref, instance_uuid)
    return ref


def delete(session, ref: str, endpoint: typing.Optional[str] = None,
           interface: str = 'public') -> bool:
    """Delete the secret ``ref``; False if it was already gone."""
    try:
        barbican = _client(session, endpoint, interface)
    except Exception as exc:
        raise DiskKeyError('cannot reach Barbican: %s' % _why(exc)
                           ) from None
    try:
        _delete(barbican, ref)
    except LookupError:
        return False
    return True


def _delete(barbican, ref: str) -> None:
    try:
        barbican.secrets.delete(ref)
    except Exception as exc:
        if getattr(exc, 'status_code', None) == 404:
            raise LookupError(ref) from None
        raise DiskKeyError('cannot delete disk key %s: %s'
                           % (ref, _why(exc))) from None


def _discard(barbican, ref: str) -> None:
    try:
        _delete(barbican, ref)
    except LookupError:
        pass
    except DiskKeyError as exc:
        # The secret has no payload, or one nobody reads plainly and only
        # this never-launched instance could attest for: it releases
        # nothing, but the operator should remove it.
        LOG.error('Incomplete disk key %s was not deleted: %s', ref, exc)


def _why(exc: Exception) -> str:
    return '%s: %s' % (type(exc).__name__, exc)
