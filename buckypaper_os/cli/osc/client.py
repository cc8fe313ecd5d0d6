"""The client the ``openstack confidential`` commands call Nitride with.

There is no authenticated Nitride HTTP admin API yet (issue 8), so this
client speaks Nitride's oslo.messaging RPC API, as Nova and Barbican do.
It is for operators on the control plane: it needs the message broker's
URL and credentials (``--os-nitride-transport-url`` or
``$OS_NITRIDE_TRANSPORT_URL``). The caller's Keystone identity (user,
project, roles of the osc session's token) travels as the RPC request
context and Nitride's oslo.policy rules decide on it. Anyone holding the
broker credentials can claim any identity, so those credentials are the
real boundary; tenants get the HTTP API later.
"""

import atexit
import typing

from oslo_context import context as context_mod

from buckypaper_os import conf as bp_conf
from buckypaper_os.nitride_service import rpc
from buckypaper_os.nitride_service import rpcapi

#: Scopes of appraisal policies.
SCOPES = ('project', 'flavor')


class ConfigurationError(Exception):
    """The client cannot reach Nitride as configured."""


def context_from_auth_ref(auth_ref) -> context_mod.RequestContext:
    """The RPC request context of a keystoneauth ``AccessInfo``.

    The token itself is not sent: Nitride does not need it, and it would
    sit in the broker's queues.
    """
    if auth_ref is None:
        raise ConfigurationError('no Keystone identity: Nitride needs the '
                                 'caller\'s project, user and roles')
    return context_mod.RequestContext(
        user_id=auth_ref.user_id, project_id=auth_ref.project_id,
        domain_id=auth_ref.domain_id,
        user_domain_id=auth_ref.user_domain_id,
        project_domain_id=auth_ref.project_domain_id,
        roles=list(auth_ref.role_names or ()))


class NitrideClient:
    """Nitride's RPC API for one caller (``context``).

    ``transport_url`` is the broker; ``topic`` Nitride's ``[nitride]
    topic``; ``config_files`` an optional buckypaper.conf for the rest of
    the oslo.messaging settings (TLS to the broker, for example).
    """

    def __init__(self, context: context_mod.RequestContext,
                 transport_url: typing.Optional[str] = None,
                 topic: typing.Optional[str] = None,
                 timeout: typing.Optional[int] = None,
                 config_files: typing.Sequence[str] = ()) -> None:
        self.context = context
        conf = bp_conf.CONF
        if config_files or not _parsed(conf):
            conf([], project='buckypaper',
                 default_config_files=list(config_files))
        if not transport_url and not getattr(conf, 'transport_url', None):
            raise ConfigurationError(
                'no Nitride transport URL: use --os-nitride-transport-url '
                'or OS_NITRIDE_TRANSPORT_URL (the control plane\'s '
                'message broker)')
        self._transport = rpc.get_transport(conf, url=transport_url)
        self.api = rpcapi.NitrideAPI(conf, self._transport,
                                     timeout=timeout, topic=topic)
        atexit.register(self.close)

    def close(self) -> None:
        if self._transport is not None:
            self._transport.cleanup()
            self._transport = None

    # Attestations

    def status(self, instance_uuid: str) -> typing.Optional[dict]:
        """The newest attestation of an instance, or None."""
        return self.api.get_status(self.context, instance_uuid)

    def export(self, instance_uuid: typing.Optional[str] = None,
               project_id: typing.Optional[str] = None) -> dict:
        """Signed records, audit events and JWKS of an instance or project.

        ``buckypaper-attest records`` verifies this document offline.
        """
        return self.api.export(self.context, instance_uuid=instance_uuid,
                               project_id=project_id)

    def attestations(self, project_id: typing.Optional[str] = None
                     ) -> typing.List[dict]:
        """Attestations of a project (all projects: None), newest first."""
        return self.export(project_id=project_id)['attestations']

    # Reference values

    def reference(self, instance_uuid: str) -> typing.Optional[dict]:
        """The reference values an instance is registered with, or None."""
        return self.api.get_reference(self.context, instance_uuid)

    def set_reference(self, instance_uuid: str,
                      measurements: typing.Sequence[str]) -> dict:
        """Replace the measurements an instance's evidence must show.

        The instance must be registered (by Nova); its TEE, project,
        policy and flavor stay as registered.
        """
        current = self.reference(instance_uuid)
        if current is None:
            raise LookupError('instance %s is not registered with Nitride'
                              % instance_uuid)
        self.api.register_instance(
            self.context, instance_uuid, current['project_id'],
            current['tee'], list(measurements), policy=current['policy'],
            flavor_id=current['flavor_id'])
        return self.reference(instance_uuid)

    # Appraisal policies

    def policy(self, scope: str, scope_id: str) -> typing.Optional[dict]:
        """The appraisal policy document of a project or flavor."""
        return self.api.get_policy(self.context, _scope(scope), scope_id)

    def set_policy(self, scope: str, scope_id: str, document: dict) -> dict:
        """Set the appraisal policy document of a project or flavor."""
        return self.api.set_policy(self.context, _scope(scope), scope_id,
                                   document)


def _scope(scope: str) -> str:
    if scope not in SCOPES:
        raise ValueError('scope must be one of %s' % ', '.join(SCOPES))
    return scope


def _parsed(conf) -> bool:
    """Whether ``conf`` has been called (parsed) already."""
    try:
        conf.config_file
    except Exception:  # oslo.config: NoSuchOptError before parsing
        return False
    return True
