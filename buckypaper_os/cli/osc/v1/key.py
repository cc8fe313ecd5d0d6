"""``openstack confidential key bind``: a disk key only one server gets.

Follows doc/vault.md: the release policy goes into the secret's metadata
before the payload (the Vault copies it when the payload arrives and
authenticates it with the ciphertext), Nitride's service user gets read
access through the secret's ACL, and then a random key is stored. Nobody
reads it back through Barbican's API: the Vault releases it only sealed
to the server's TEE after Nitride verified its evidence. The key never
leaves this process except into Barbican.
"""

import json
import os

from osc_lib.command import command
from osc_lib import exceptions

from buckypaper_os.cli.osc.v1 import common

TEES = ('sev-snp', 'tdx')


def secret_url(session, ref: str, **endpoint) -> str:
    """The absolute URL of a secret given by href or ID."""
    if ref.startswith(('http://', 'https://')):
        return ref.rstrip('/')
    base = session.get_endpoint(service_type='key-manager', **endpoint)
    return '%s/v1/secrets/%s' % (base.rstrip('/'), ref)


class BindKey(command.ShowOne):
    """Bind an empty Barbican secret to a server and store a random key.

    The secret must have no payload yet (e.g. OS::Barbican::Secret without
    payload, or POST /v1/secrets without one).
    """

    def get_parser(self, prog_name):
        parser = super().get_parser(prog_name)
        parser.add_argument('server', metavar='<server>',
                            help='Server (name or ID) the key is bound to')
        parser.add_argument('--secret', required=True, metavar='<secret>',
                            help='Secret href or ID, without a payload')
        parser.add_argument('--tee', choices=TEES,
                            help='Require this TEE as well')
        parser.add_argument('--min-tcb', metavar='<json>',
                            help='Minimum TCB, JSON, e.g. \'{"snp": 22}\'')
        parser.add_argument('--nitride-user', metavar='<user-id>',
                            help='Keystone user ID of Nitride\'s service '
                                 'user, given read access (the release '
                                 'relay reads the sealed secret as it)')
        parser.add_argument('--key-bytes', type=int, default=64,
                            choices=(32, 64),
                            help='Key length: 64 for AES-256-XTS '
                                 '(default), 32 for AES-256-GCM')
        return parser

    def take_action(self, parsed_args):
        instance = common.server_id(self.app, parsed_args.server)
        manager = self.app.client_manager
        session = manager.session
        url = secret_url(session, parsed_args.secret,
                         interface=manager.interface,
                         region_name=manager.region_name)
        metadata = {'buckypaper-instance': instance}
        if parsed_args.tee:
            metadata['buckypaper-tee'] = parsed_args.tee
        if parsed_args.min_tcb:
            try:
                min_tcb = json.loads(parsed_args.min_tcb)
            except ValueError:
                raise exceptions.CommandError('--min-tcb is not JSON'
                                              ) from None
            metadata['buckypaper-min-tcb'] = json.dumps(min_tcb,
                                                        sort_keys=True)
        session.put(url + '/metadata', json={'metadata': metadata})
        if parsed_args.nitride_user:
            session.put(url + '/acl', json={'read': {
                'users': [parsed_args.nitride_user],
                'project-access': True}})
        key = bytearray(os.urandom(parsed_args.key_bytes))
        try:
            session.put(url, data=bytes(key), headers={
                'Content-Type': 'application/octet-stream'})
        finally:
            key[:] = bytes(len(key))
        fields = ('secret', 'server', 'metadata', 'nitride_read_access',
                  'key_bytes')
        return fields, (url, instance, json.dumps(metadata, sort_keys=True),
                        parsed_args.nitride_user or '',
                        parsed_args.key_bytes)
