"""``openstack confidential key bind``: a disk key only one server gets.

The steps of doc/vault.md (release policy in the secret's metadata
before the payload, read access for Nitride's service user, a random key)
are :func:`buckypaper_os.disk_key.bind`, shared with the Heat resource
``OS::Buckypaper::DiskKeyBinding``.
"""

import json

from osc_lib.command import command
from osc_lib import exceptions

from buckypaper_os.barbican_plugin import policy
from buckypaper_os.cli.osc.v1 import common
from buckypaper_os import disk_key


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
        parser.add_argument('--tee', choices=policy.TEES,
                            help='Require this TEE as well')
        parser.add_argument('--min-tcb', metavar='<json>',
                            help='Minimum TCB, JSON, e.g. \'{"snp": 22}\'')
        parser.add_argument('--nitride-user', metavar='<user-id>',
                            help='Keystone user ID of Nitride\'s service '
                                 'user, given read access (the release '
                                 'relay reads the sealed secret as it)')
        parser.add_argument('--key-bytes', type=int, default=64,
                            choices=sorted(disk_key.KEY_BYTES),
                            help='Key length: 64 for AES-256-XTS '
                                 '(default), 32 for AES-256-GCM')
        return parser

    def take_action(self, parsed_args):
        instance = common.server_id(self.app, parsed_args.server)
        manager = self.app.client_manager
        session = manager.session
        try:
            url = disk_key.secret_url(
                parsed_args.secret, lambda: session.get_endpoint(
                    service_type='key-manager', interface=manager.interface,
                    region_name=manager.region_name))
        except ValueError as exc:
            raise exceptions.CommandError(str(exc)) from None
        min_tcb = None
        if parsed_args.min_tcb:
            try:
                min_tcb = json.loads(parsed_args.min_tcb)
            except ValueError:
                raise exceptions.CommandError('--min-tcb is not JSON'
                                              ) from None
        try:
            metadata = disk_key.bind(
                session, url, instance, parsed_args.tee, min_tcb,
                parsed_args.nitride_user, parsed_args.key_bytes)
        except policy.PolicyError as exc:
            raise exceptions.CommandError(str(exc)) from None
        fields = ('secret', 'server', 'metadata', 'nitride_read_access',
                  'key_bytes')
        return fields, (url, instance, json.dumps(metadata, sort_keys=True),
                        parsed_args.nitride_user or '',
                        parsed_args.key_bytes)
