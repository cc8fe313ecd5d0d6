"""``buckypaper-simulated-tee``: a simulated SEV-SNP TEE by hand.

``buckypaper-simulated-tee init DIR [--product Milan|Genoa|Turin]`` creates
the simulated PKI in DIR (or keeps the one there);
``buckypaper-simulated-tee report DIR --report-data HEX --host-data HEX
--measurement HEX [--policy 0x30000] --out FILE`` writes a signed report;
its certificates are DIR/vcek.pem and DIR/cert_chain.pem. Bad input exits
2 with one line on stderr.
"""

import argparse
import sys
import typing

from buckypaper_os.attestation.snp import abi
from buckypaper_os.simulated_tee import attester
from buckypaper_os.simulated_tee import pki as pki_mod

EXIT_BAD_INPUT = 2


class _Parser(argparse.ArgumentParser):
    """An argument parser that reports usage errors in one line."""

    def error(self, message: str) -> typing.NoReturn:
        self.exit(EXIT_BAD_INPUT, '%s: error: %s\n' % (self.prog, message))


def _hex(size: int) -> typing.Callable[[str], bytes]:
    def parse(text: str) -> bytes:
        try:
            value = bytes.fromhex(text)
        except ValueError:
            raise argparse.ArgumentTypeError('not hex: %r' % text) from None
        if len(value) != size:
            raise argparse.ArgumentTypeError(
                'must be %d bytes (%d hex digits), not %d'
                % (size, 2 * size, len(value)))
        return value
    return parse


def _policy(text: str) -> int:
    try:
        value = int(text, 0)
    except ValueError:
        raise argparse.ArgumentTypeError(
            'not an integer: %r' % text) from None
    if not 0 <= value < 1 << 64:
        raise argparse.ArgumentTypeError('not a 64-bit guest policy')
    return value


def build_parser() -> argparse.ArgumentParser:
    """The command-line grammar."""
    parser = _Parser(prog='buckypaper-simulated-tee',
                     description='A simulated SEV-SNP TEE (NOT genuine '
                                 'hardware evidence).')
    commands = parser.add_subparsers(dest='command', required=True,
                                     parser_class=_Parser)
    init = commands.add_parser('init', help='create the simulated PKI')
    init.add_argument('directory', metavar='DIR')
    init.add_argument('--product', choices=abi.PRODUCTS)
    report = commands.add_parser('report', help='write a signed report')
    report.add_argument('directory', metavar='DIR')
    report.add_argument('--report-data', required=True, type=_hex(64),
                        metavar='HEX')
    report.add_argument('--host-data', required=True, type=_hex(32),
                        metavar='HEX')
    report.add_argument('--measurement', required=True, type=_hex(48),
                        metavar='HEX')
    report.add_argument('--policy', type=_policy, default=0x30000,
                        metavar='INT', help='guest policy (default 0x30000)')
    report.add_argument('--out', required=True, metavar='FILE')
    return parser


def main(argv: typing.Optional[typing.Sequence[str]] = None) -> int:
    """Run one command; the exit code."""
    args = build_parser().parse_args(argv)
    try:
        if args.command == 'init':
            pki = pki_mod.SimulatedPki.open(args.directory, args.product)
            print('simulated %s PKI in %s (NOT a real AMD root); trust '
                  'anchors: %s' % (pki.product, args.directory,
                                   ' '.join(pki_mod.PUBLIC_FILES)))
            return 0
        pki = pki_mod.SimulatedPki.load(args.directory)
    except pki_mod.PkiError as exc:
        return _fail(str(exc))
    guest = attester.SimulatedAttester(
        pki, measurement=args.measurement, host_data=args.host_data,
        policy=args.policy)
    try:
        with open(args.out, 'wb') as f:
            f.write(guest.report(args.report_data))
    except OSError as exc:
        return _fail('cannot write %s: %s' % (args.out, exc.strerror))
    return 0


def _fail(message: str) -> int:
    print('buckypaper-simulated-tee: error: %s' % message, file=sys.stderr)
    return EXIT_BAD_INPUT


if __name__ == '__main__':
    sys.exit(main())
