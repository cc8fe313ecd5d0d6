"""``openstack confidential attestation show|list|export``."""

import sys

from osc_lib.cli import format_columns
from osc_lib.command import command

from buckypaper_os.cli.osc.v1 import common

#: Fields of ``attestation show``, in order (the evidence is exported).
SHOW_FIELDS = ('id', 'instance_uuid', 'project_id', 'tee', 'status',
               'simulated', 'claims', 'reasons', 'token_jti', 'created_at',
               'expires_at')
LIST_COLUMNS = ('ID', 'Instance', 'Project', 'TEE', 'Status', 'Simulated',
                'Created At', 'Expires At')
LIST_FIELDS = ('id', 'instance_uuid', 'project_id', 'tee', 'status',
               'simulated', 'created_at', 'expires_at')


class ShowAttestation(common.ShowServerRecord):
    """Show the newest attestation of a confidential server."""

    MISSING = 'server %s has no attestation'

    def fetch(self, client, instance):
        return client.status(instance)

    def row(self, record):
        values = (format_columns.DictColumn(record.get(f))
                  if f == 'claims' else
                  format_columns.ListColumn(record.get(f))
                  if f == 'reasons' else record.get(f)
                  for f in SHOW_FIELDS)
        return SHOW_FIELDS, tuple(values)


class ListAttestation(command.Lister):
    """List attestations of a project, newest first."""

    def get_parser(self, prog_name):
        parser = super().get_parser(prog_name)
        scope = parser.add_mutually_exclusive_group()
        scope.add_argument('--project', metavar='<project-id>',
                           help='Project ID (default: the current project)')
        scope.add_argument('--all-projects', action='store_true',
                           help='Attestations of every project (admin)')
        parser.add_argument('--latest', action='store_true',
                            help='Only the newest attestation per server')
        return parser

    def take_action(self, parsed_args):
        client = self.app.client_manager.confidential
        project = (None if parsed_args.all_projects else
                   parsed_args.project or client.context.project_id)
        records = client.attestations(project)
        if parsed_args.latest:
            seen = set()
            newest = []
            for record in records:
                if record['instance_uuid'] not in seen:
                    seen.add(record['instance_uuid'])
                    newest.append(record)
            records = newest
        return LIST_COLUMNS, [tuple(r.get(f) for f in LIST_FIELDS)
                              for r in records]


class ExportAttestation(command.Command):
    """Export signed attestation records, audit events and token keys.

    The JSON document is what ``buckypaper-attest records FILE`` verifies
    offline: token signatures against the JWKS, and the evidence itself
    against the vendors' roots.
    """

    def get_parser(self, prog_name):
        parser = super().get_parser(prog_name)
        scope = parser.add_mutually_exclusive_group(required=True)
        scope.add_argument('server', metavar='<server>', nargs='?',
                           help='Server (name or ID)')
        scope.add_argument('--project', metavar='<project-id>',
                           help='Every record of a project')
        parser.add_argument('--file', metavar='<file>',
                            help='Write to this file (default: stdout)')
        return parser

    def take_action(self, parsed_args):
        client = self.app.client_manager.confidential
        if parsed_args.server:
            document = client.export(
                instance_uuid=common.server_id(self.app, parsed_args.server))
        else:
            document = client.export(project_id=parsed_args.project)
        text = common.dumps(document) + '\n'
        if parsed_args.file:
            with open(parsed_args.file, 'w') as f:
                f.write(text)
        else:
            (self.app.stdout or sys.stdout).write(text)
