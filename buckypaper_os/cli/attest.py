"""``buckypaper-attest``: verify evidence from the command line.

``buckypaper-attest verify --evidence FILE [--tee sev-snp|tdx] [--cert FILE]...
[--collateral DIR] [--at ISO8601] [--policy FILE]`` prints the result as JSON.
Exit codes: 0 affirming or warning, 1 contraindicated, 2 malformed or
unusable input (one line on stderr, no traceback).

``buckypaper-attest records FILE`` re-verifies exported attestation records
offline (token signatures and the evidence itself); exit 0 when every
record holds, 1 otherwise, 2 when the file is unusable.
"""

import argparse
import datetime
import json
import sys
import typing

from buckypaper_os import attestation

EXIT_OK = 0
EXIT_CONTRAINDICATED = 1
EXIT_UNUSABLE = 2

#: Input files are read up to this size; larger ones are refused.
MAX_INPUT = attestation.MAX_EVIDENCE_SIZE


class _Parser(argparse.ArgumentParser):
    """An argument parser that reports usage errors with exit code 2."""

    def error(self, message: str) -> typing.NoReturn:
        self.exit(EXIT_UNUSABLE, '%s: error: %s\n' % (self.prog, message))


def build_parser() -> argparse.ArgumentParser:
    """The command-line grammar."""
    parser = _Parser(prog='buckypaper-attest',
                     description='Verify SEV-SNP reports and TDX quotes.')
    commands = parser.add_subparsers(dest='command', required=True,
                                     parser_class=_Parser)
    verify = commands.add_parser('verify', help='verify one piece of evidence')
    verify.add_argument('--evidence', required=True, metavar='FILE',
                        help='raw SNP ATTESTATION_REPORT or TDX quote')
    verify.add_argument('--tee', choices=('sev-snp', 'tdx'),
                        help='TEE kind (detected when omitted)')
    verify.add_argument('--cert', action='append', default=[],
                        metavar='FILE',
                        help='PEM or DER certificate(s): VCEK/VLEK, KDS '
                             'cert_chain (repeatable)')
    verify.add_argument('--collateral', metavar='DIR',
                        help='directory of collateral (vectors layout)')
    verify.add_argument('--at', type=_timestamp, metavar='ISO8601',
                        help='verification time (default: now)')
    verify.add_argument('--policy', metavar='FILE',
                        help='JSON appraisal policy')
    records = commands.add_parser(
        'records', help='re-verify exported attestation records offline')
    records.add_argument('export', metavar='FILE',
                         help='JSON export of buckypaper-nitride-manage '
                              'export')
    records.add_argument('--simulated-trust-dir', metavar='DIR',
                         help='also accept records of this simulated TEE')
    return parser


def _timestamp(value: str) -> datetime.datetime:
    try:
        at = datetime.datetime.fromisoformat(value.replace('Z', '+00:00'))
    except ValueError:
        raise argparse.ArgumentTypeError(
            'not an ISO 8601 time: %r' % value) from None
    if at.tzinfo is None:
        at = at.replace(tzinfo=datetime.timezone.utc)
    try:
        return at.astimezone(datetime.timezone.utc)
    except OverflowError:
        raise argparse.ArgumentTypeError(
            'time out of range: %r' % value) from None


def _read(path: str, what: str) -> bytes:
    try:
        with open(path, 'rb') as f:
            data = f.read(MAX_INPUT + 1)
    except OSError as exc:
        raise attestation.EvidenceError(
            'cannot read %s %s: %s' % (what, path, exc.strerror)) from None
    if len(data) > MAX_INPUT:
        raise attestation.EvidenceError(
            '%s %s is larger than %d bytes' % (what, path, MAX_INPUT))
    return data


def run_verify(args: argparse.Namespace) -> int:
    """Verify, print the JSON result and return the exit code."""
    policy = (attestation.Policy.from_file(args.policy) if args.policy
              else None)
    result = attestation.verify(
        _read(args.evidence, 'evidence'), tee=args.tee,
        certs=[_read(path, 'certificate') for path in args.cert],
        collateral=args.collateral, at=args.at, policy=policy)
    json.dump(result.to_dict(), sys.stdout, indent=2, sort_keys=True)
    sys.stdout.write('\n')
    return EXIT_OK if result.ok else EXIT_CONTRAINDICATED


def run_records(args: argparse.Namespace) -> int:
    """Re-verify exported records; exit 0 only if every one holds."""
    from buckypaper_os.nitride_service import records
    try:
        with open(args.export, encoding='utf-8') as f:
            export = json.load(f)
        findings = records.check(export, args.simulated_trust_dir)
    except (OSError, ValueError, RecursionError) as exc:
        raise attestation.EvidenceError('cannot use export %s: %s'
                                        % (args.export, exc)) from None
    json.dump(findings, sys.stdout, indent=2, sort_keys=True)
    sys.stdout.write('\n')
    ok = all(finding['ok'] for finding in findings)
    return EXIT_OK if ok else EXIT_CONTRAINDICATED


_COMMANDS = {'verify': run_verify, 'records': run_records}


def main(argv: typing.Optional[typing.Sequence[str]] = None) -> int:
    """Console-script entry point.

    Any failure to reach a verdict is exit 2, never 1: a crash must not
    read as a contraindicated (but orderly) verdict.
    """
    args = build_parser().parse_args(argv)
    try:
        return _COMMANDS[args.command](args)
    except attestation.EvidenceError as exc:
        message = str(exc)
    except Exception as exc:
        message = 'internal error (%s): %s' % (type(exc).__name__, exc)
    sys.stderr.write('buckypaper-attest: error: %s\n'
                     % ' '.join(message.split())[:500])
    return EXIT_UNUSABLE


if __name__ == '__main__':
    sys.exit(main())
