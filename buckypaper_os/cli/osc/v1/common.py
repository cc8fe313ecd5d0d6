"""Helpers shared by the ``openstack confidential`` commands."""

import json
import sys
import uuid

from osc_lib.command import command
from osc_lib import exceptions
import yaml


def server_id(app, name_or_id: str) -> str:
    """The UUID of a server given by name or ID (Nova resolves names)."""
    try:
        return str(uuid.UUID(name_or_id))
    except ValueError:
        pass
    server = app.client_manager.compute.find_server(name_or_id,
                                                    ignore_missing=False)
    return server.id


class ShowServerRecord(command.ShowOne):
    """Show one of Nitride's records of a server given by name or ID."""

    #: The error when the server has no such record (%s: the server).
    MISSING = 'server %s has no record'

    def get_parser(self, prog_name):
        parser = super().get_parser(prog_name)
        parser.add_argument('server', metavar='<server>',
                            help='Server (name or ID)')
        return parser

    def take_action(self, parsed_args):
        instance = server_id(self.app, parsed_args.server)
        record = self.fetch(self.app.client_manager.confidential, instance)
        if record is None:
            raise exceptions.CommandError(self.MISSING % parsed_args.server)
        return self.row(record)

    def fetch(self, client, instance: str):
        """The record of ``instance``, or None."""
        raise NotImplementedError

    def row(self, record: dict) -> tuple:
        """The (fields, values) pair that shows ``record``."""
        raise NotImplementedError


def load_document(path: str) -> dict:
    """A JSON or YAML policy document from ``path`` ("-": stdin)."""
    try:
        if path == '-':
            text = sys.stdin.read()
        else:
            with open(path) as f:
                text = f.read()
    except OSError as exc:
        raise exceptions.CommandError('cannot read %s: %s'
                                      % (path, exc.strerror)) from None
    try:
        document = yaml.safe_load(text)  # JSON is YAML
    except yaml.YAMLError as exc:
        raise exceptions.CommandError('%s is neither JSON nor YAML: %s'
                                      % (path, exc)) from None
    if not isinstance(document, dict):
        raise exceptions.CommandError('%s must hold one object (mapping)'
                                      % path)
    return document


def dumps(document) -> str:
    """Canonical JSON text of an exported document."""
    return json.dumps(document, indent=2, sort_keys=True)
