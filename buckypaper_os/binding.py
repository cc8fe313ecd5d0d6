"""What binds a piece of evidence to one instance and one challenge.

Nova puts the *instance binding* into the launch (SNP ``HOST_DATA``, 32
bytes; TDX ``MRCONFIGID``, 48 bytes, and ``MROWNER`` for the project) and
the guest puts the *report data* into its evidence; Nitride recomputes both
and compares. Every value is a domain-separated hash, so a verifier can
recompute it from the instance UUID and project alone::

    host_data    = SHA-256("buckypaper-os/host-data/v1" 0x00 uuid 0x00 project)
    mr_config_id = SHA-384("buckypaper-os/mr-config-id/v1" 0x00 uuid 0x00
                           project)
    mr_owner     = SHA-384("buckypaper-os/mr-owner/v1" 0x00 project)
    report_data  = SHA-512(nonce || TEE public key)

UUIDs are taken in their canonical lowercase form.
"""

import hashlib
import uuid

SNP = 'sev-snp'
TDX = 'tdx'
TEES = (SNP, TDX)


def _digest(algorithm: str, label: str, *parts: str) -> bytes:
    data = b'\0'.join([label.encode('ascii')]
                      + [p.encode('utf-8') for p in parts])
    return hashlib.new(algorithm, data).digest()


def _canonical(instance_uuid: str) -> str:
    try:
        return str(uuid.UUID(instance_uuid))
    except (ValueError, AttributeError, TypeError):
        raise ValueError('instance %r is not a UUID' % (instance_uuid,)) \
            from None


def host_data(instance_uuid: str, project_id: str) -> bytes:
    """SNP HOST_DATA of an instance (32 bytes)."""
    return _digest('sha256', 'buckypaper-os/host-data/v1',
                   _canonical(instance_uuid), project_id)


def mr_config_id(instance_uuid: str, project_id: str) -> bytes:
    """TDX MRCONFIGID of an instance (48 bytes)."""
    return _digest('sha384', 'buckypaper-os/mr-config-id/v1',
                   _canonical(instance_uuid), project_id)


def mr_owner(project_id: str) -> bytes:
    """TDX MROWNER of a project's instances (48 bytes)."""
    return _digest('sha384', 'buckypaper-os/mr-owner/v1', project_id)


def instance_binding(tee: str, instance_uuid: str, project_id: str) -> bytes:
    """The launch binding of an instance for its TEE."""
    if tee == SNP:
        return host_data(instance_uuid, project_id)
    if tee == TDX:
        return mr_config_id(instance_uuid, project_id)
    raise ValueError('unknown TEE %r' % (tee,))


def report_data(nonce: bytes, tee_public_key: bytes) -> bytes:
    """REPORT_DATA binding a challenge nonce and the guest's key (64 bytes)."""
    return hashlib.sha512(nonce + tee_public_key).digest()
