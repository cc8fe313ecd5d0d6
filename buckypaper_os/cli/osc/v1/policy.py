"""``openstack confidential policy|reference-value set|show``."""

from osc_lib.cli import format_columns
from osc_lib.command import command
from osc_lib import exceptions

from buckypaper_os.cli.osc.v1 import common

POLICY_FIELDS = ('scope', 'id', 'policy')
REFERENCE_FIELDS = ('instance_uuid', 'project_id', 'tee', 'measurements',
                    'flavor_id', 'policy', 'created_at', 'updated_at')


def _add_scope(parser):
    scope = parser.add_mutually_exclusive_group(required=True)
    scope.add_argument('--project', metavar='<project-id>',
                       help='Policy of this project')
    scope.add_argument('--flavor', metavar='<flavor-id>',
                       help='Policy of this flavor (Nova\'s flavor ID)')


def _scope(parsed_args):
    if parsed_args.project:
        return 'project', parsed_args.project
    return 'flavor', parsed_args.flavor


def _policy_row(scope, scope_id, document):
    return POLICY_FIELDS, (scope, scope_id,
                           format_columns.DictColumn(document))


class ShowPolicy(command.ShowOne):
    """Show the appraisal policy of a project or flavor."""

    def get_parser(self, prog_name):
        parser = super().get_parser(prog_name)
        _add_scope(parser)
        return parser

    def take_action(self, parsed_args):
        scope, scope_id = _scope(parsed_args)
        document = self.app.client_manager.confidential.policy(scope,
                                                               scope_id)
        if document is None:
            raise exceptions.CommandError('%s %s has no appraisal policy'
                                          % (scope, scope_id))
        return _policy_row(scope, scope_id, document)


class SetPolicy(command.ShowOne):
    """Set the appraisal policy of a project or flavor (admin).

    The document is JSON or YAML: the keys of the README's policy file
    (allow_debug, min_tcb, measurements, ...) plus token_lifetime.
    """

    def get_parser(self, prog_name):
        parser = super().get_parser(prog_name)
        _add_scope(parser)
        parser.add_argument('document', metavar='<file>',
                            help='Policy document, JSON or YAML ("-": '
                                 'stdin)')
        return parser

    def take_action(self, parsed_args):
        scope, scope_id = _scope(parsed_args)
        document = common.load_document(parsed_args.document)
        stored = self.app.client_manager.confidential.set_policy(
            scope, scope_id, document)
        return _policy_row(scope, scope_id, stored)


def _reference_row(record):
    values = []
    for field in REFERENCE_FIELDS:
        value = record.get(field)
        if field == 'measurements':
            value = format_columns.ListColumn(value)
        elif field == 'policy':
            value = format_columns.DictColumn(value)
        values.append(value)
    return REFERENCE_FIELDS, tuple(values)


class ShowReferenceValue(common.ShowServerRecord):
    """Show the reference values a server is registered with."""

    MISSING = 'server %s is not registered with Nitride'

    def fetch(self, client, instance):
        return client.reference(instance)

    def row(self, record):
        return _reference_row(record)


class SetReferenceValue(command.ShowOne):
    """Replace the launch measurements a server's evidence must show.

    For a server Nova registered: after a firmware update, for example
    (compute them with ``openstack confidential measure``). Needs the
    admin or service role.
    """

    def get_parser(self, prog_name):
        parser = super().get_parser(prog_name)
        parser.add_argument('server', metavar='<server>',
                            help='Server (name or ID)')
        parser.add_argument('--measurement', metavar='<hex>',
                            action='append', required=True,
                            dest='measurements',
                            help='Allowed SNP MEASUREMENT or TDX MRTD, hex '
                                 '(repeat for several)')
        return parser

    def take_action(self, parsed_args):
        instance = common.server_id(self.app, parsed_args.server)
        try:
            record = self.app.client_manager.confidential.set_reference(
                instance, parsed_args.measurements)
        except LookupError as exc:
            raise exceptions.CommandError(str(exc)) from None
        return _reference_row(record)
