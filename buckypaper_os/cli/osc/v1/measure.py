"""``openstack confidential measure sev-snp|tdx``: buckypaper-measure."""

import argparse

from osc_lib.cli import format_columns
from osc_lib.command import command
from osc_lib import exceptions

from buckypaper_os.attestation.firmware import FirmwareError
from buckypaper_os.cli import measure


class Measure(command.ShowOne):
    """Compute the expected launch measurement of a confidential guest.

    The same computation and options as ``buckypaper-measure``: the SEV-SNP
    launch digest (the report's MEASUREMENT) of an OVMF image, or the TDX
    MRTD of a TDVF image. Use the result with ``reference-value set`` or
    a policy's ``measurements``.
    """

    auth_required = False

    def get_parser(self, prog_name):
        parser = super().get_parser(prog_name)
        # buckypaper-measure's own grammar, less its -f (osc's -f is ours).
        own = measure.build_parser()
        tees = next(a for a in own._actions
                    if isinstance(a, argparse._SubParsersAction))
        parser.add_argument('tee', choices=sorted(tees.choices),
                            help='sev-snp or tdx')
        seen = set()
        for sub in tees.choices.values():
            for action in sub._actions:
                if (not action.option_strings or action.dest in seen
                        or action.dest in ('help', 'format')):
                    continue
                seen.add(action.dest)
                kwargs = {'dest': action.dest, 'metavar': action.metavar,
                          'default': action.default, 'help': action.help}
                if action.choices is not None:
                    kwargs['choices'] = action.choices
                if action.type is not None:
                    kwargs['type'] = action.type
                parser.add_argument(*action.option_strings, **kwargs)
        self._subparsers = tees.choices
        return parser

    def take_action(self, parsed_args):
        argv = [parsed_args.tee]
        for action in self._subparsers[parsed_args.tee]._actions:
            if not action.option_strings or action.dest in ('help',
                                                            'format'):
                continue
            value = getattr(parsed_args, action.dest, None)
            if value is not None and value != action.default:
                argv += [action.option_strings[0], str(value)]
        try:
            args = measure.build_parser().parse_args(argv)
        except SystemExit:
            raise exceptions.CommandError(
                'invalid options for %s (see above)' % parsed_args.tee
            ) from None
        try:
            result = measure.compute(args)
        except FirmwareError as exc:
            raise exceptions.CommandError(str(exc)) from None
        fields = tuple(sorted(result))
        return fields, tuple(
            format_columns.DictColumn(result[f])
            if isinstance(result[f], dict) else result[f] for f in fields)
