"""Client of Nitride's RPC API, for Nova and the Barbican plugin.

Every call either returns Nitride's answer or raises: a timeout, a broken
broker or a refusal is an exception, never a yes. Bytes are sent as base64
text. Refusals arrive as :class:`engine.Refused` with their reasons.

Version history:

* 1.0 - register_instance, remove_instance, get_status, verify,
  authorize_release, get_policy, set_policy, export.
* 1.1 - get_reference.
* 1.2 - authorize_release takes a challenge and signs its yes.
"""

import base64
import datetime
import typing

from oslo_config import cfg
from oslo_context import context as context_mod
import oslo_messaging as messaging

from buckypaper_os.nitride_service import rpc

Context = context_mod.RequestContext


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode('ascii')


class NitrideAPI:
    """Calls Nitride workers on the ``[nitride] topic``."""

    def __init__(self, conf: cfg.ConfigOpts,
                 transport: typing.Optional[messaging.Transport] = None,
                 timeout: typing.Optional[int] = None,
                 topic: typing.Optional[str] = None) -> None:
        target = rpc.target(conf)
        if topic is not None:
            target.topic = topic
        self._client = messaging.get_rpc_client(
            transport or rpc.get_transport(conf), target,
            serializer=rpc.ContextSerializer(),
            timeout=timeout or conf.nitride.rpc_timeout,
            retry=conf.nitride.rpc_retries)

    def register_instance(self, context: Context, instance_uuid: str,
                          project_id: str, tee: str,
                          measurements: typing.Sequence[str],
                          binding: typing.Optional[str] = None,
                          policy: typing.Optional[dict] = None,
                          flavor_id: typing.Optional[str] = None) -> dict:
        """Register reference values and binding; the binding (hex)."""
        return self._client.call(
            context, 'register_instance', instance_uuid=instance_uuid,
            project_id=project_id, tee=tee, measurements=list(measurements),
            binding=binding, policy=policy, flavor_id=flavor_id)

    def remove_instance(self, context: Context, instance_uuid: str) -> bool:
        """Forget an instance; its tokens no longer release anything."""
        return self._client.call(context, 'remove_instance',
                                 instance_uuid=instance_uuid)

    def get_status(self, context: Context,
                   instance_uuid: str) -> typing.Optional[dict]:
        """The newest attestation of an instance, or None."""
        return self._client.call(context, 'get_status',
                                 instance_uuid=instance_uuid)

    def get_reference(self, context: Context,
                      instance_uuid: str) -> typing.Optional[dict]:
        """The reference values an instance is registered with, or None."""
        return self._client.prepare(version='1.1').call(
            context, 'get_reference', instance_uuid=instance_uuid)

    def verify(self, context: Context, evidence: bytes, *,
               tee: typing.Optional[str] = None,
               certs: typing.Sequence[bytes] = (),
               collateral: typing.Optional[typing.Mapping[str, bytes]] = None,
               at: typing.Optional[datetime.datetime] = None,
               policy: typing.Optional[dict] = None) -> dict:
        """The verdict on evidence bound to no instance (see verify())."""
        return self._client.call(
            context, 'verify', evidence=_b64(evidence), tee=tee,
            certs=[_b64(c) for c in certs],
            collateral={name: _b64(data) for name, data in
                        (collateral or {}).items()},
            at=at.isoformat() if at else None, policy=policy)

    def authorize_release(self, context: Context, ticket: str,
                          secret_ref: str, project_id: str,
                          release_policy: dict, challenge: str) -> dict:
        """Nitride's release decision: {"allowed": ..., "reasons": ...}.

        A yes carries ``signature``, Nitride's signed decision over
        ``challenge`` (see :mod:`.decision`).
        """
        return self._client.prepare(version='1.2').call(
            context, 'authorize_release', ticket=ticket,
            secret_ref=secret_ref, project_id=project_id,
            release_policy=release_policy, challenge=challenge)

    def get_policy(self, context: Context, scope: str,
                   scope_id: str) -> typing.Optional[dict]:
        """The appraisal policy of a project or flavor."""
        return self._client.call(context, 'get_policy', scope=scope,
                                 scope_id=scope_id)

    def set_policy(self, context: Context, scope: str, scope_id: str,
                   document: dict) -> dict:
        """Set the appraisal policy of a project or flavor."""
        return self._client.call(context, 'set_policy', scope=scope,
                                 scope_id=scope_id, document=document)

    def export(self, context: Context,
               instance_uuid: typing.Optional[str] = None,
               project_id: typing.Optional[str] = None) -> dict:
        """Signed attestation records, audit events and the JWKS."""
        return self._client.call(context, 'export',
                                 instance_uuid=instance_uuid,
                                 project_id=project_id)
