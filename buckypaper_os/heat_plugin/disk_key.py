"""``OS::Buckypaper::DiskKeyBinding``: a stack's disk key for its server.

Binds an empty secret (an ``OS::Barbican::Secret`` without payload, whose
reference the server's metadata carries to its enclaivelet) to the
server, then stores a random key in it: :func:`buckypaper_os.disk_key.bind`
with the stack owner's Keystone session. The guest's key release fails
closed until then. Deleting the resource removes the secret's ACL, so
Nitride's relay can no longer read it and no server gets the key again;
the secret itself belongs to its ``OS::Barbican::Secret``.

A Barbican secret takes one payload, so a changed property cannot be
applied in place; the binding is not updatable.
"""

from heat.common.i18n import _
from heat.engine import attributes
from heat.engine import constraints
from heat.engine import properties
from heat.engine import resource

from buckypaper_os.barbican_plugin import policy
from buckypaper_os import disk_key

TYPE = 'OS::Buckypaper::DiskKeyBinding'


class DiskKeyBinding(resource.Resource):
    """Binds an empty Barbican secret to a server and stores a disk key.

    The secret's release policy names the server (and optionally its TEE
    and a minimum TCB); the Vault releases the key only sealed to that
    server's TEE after Nitride verified its evidence.
    """

    default_client_name = 'barbican'

    PROPERTIES = (
        SECRET, SERVER, TEE, MIN_TCB, NITRIDE_USER, KEY_BYTES,
    ) = (
        'secret', 'server', 'tee', 'min_tcb', 'nitride_user', 'key_bytes',
    )

    properties_schema = {
        SECRET: properties.Schema(
            properties.Schema.STRING,
            _('Reference or ID of a Barbican secret without a payload.'),
            required=True,
            constraints=[constraints.CustomConstraint('barbican.secret')]),
        SERVER: properties.Schema(
            properties.Schema.STRING,
            _('ID of the server the key is bound to.'),
            required=True,
            constraints=[constraints.CustomConstraint('nova.server')]),
        TEE: properties.Schema(
            properties.Schema.STRING,
            _('Require this TEE as well.'),
            constraints=[constraints.AllowedValues(list(policy.TEES))]),
        MIN_TCB: properties.Schema(
            properties.Schema.MAP,
            _('Minimum TCB components, e.g. {"snp": 22}.')),
        NITRIDE_USER: properties.Schema(
            properties.Schema.STRING,
            _('Keystone user ID of Nitride\'s service user, given read '
              'access (the release relay reads the sealed secret as it).'),
            default=''),
        KEY_BYTES: properties.Schema(
            properties.Schema.INTEGER,
            _('Key length: 64 for AES-256-XTS, 32 for AES-256-GCM.'),
            default=64,
            constraints=[constraints.AllowedValues(
                list(disk_key.KEY_BYTES))]),
    }

    ATTRIBUTES = (
        SECRET_ATTR, RELEASE_POLICY,
    ) = (
        'secret', 'release_policy',
    )

    attributes_schema = {
        SECRET_ATTR: attributes.Schema(
            _('URL of the bound secret.'),
            type=attributes.Schema.STRING),
        RELEASE_POLICY: attributes.Schema(
            _('The release policy set in the secret\'s metadata.'),
            type=attributes.Schema.MAP),
    }

    def _session(self):
        return self.context.keystone_session

    def _url(self) -> str:
        plugin = self.client_plugin()
        return disk_key.secret_url(
            self.properties[self.SECRET], lambda: plugin.url_for(
                service_type=plugin.KEY_MANAGER,
                endpoint_type=plugin._get_client_option(
                    'barbican', 'endpoint_type')))

    def handle_create(self) -> None:
        url = self._url()
        disk_key.bind(self._session(), url, self.properties[self.SERVER],
                      self.properties[self.TEE],
                      self.properties[self.MIN_TCB],
                      self.properties[self.NITRIDE_USER],
                      self.properties[self.KEY_BYTES])
        self.resource_id_set(url)

    def _resolve_attribute(self, name):
        if not self.resource_id:
            return None
        if name == self.SECRET_ATTR:
            return self.resource_id
        if name == self.RELEASE_POLICY:
            return disk_key.release_policy(self.properties[self.SERVER],
                                           self.properties[self.TEE],
                                           self.properties[self.MIN_TCB])

    def handle_delete(self) -> None:
        if self.resource_id:
            disk_key.revoke(self._session(), self.resource_id)


def resource_mapping():
    return {TYPE: DiskKeyBinding}
