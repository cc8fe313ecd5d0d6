"""``buckypaper-os``: the project's own command; ``demo`` runs the flow.

``buckypaper-os demo [--json] [--transport-url URL] [--keep DIR]`` starts
Nitride (SQLite) and a real Barbican API with the Vault on loopback, plays
a simulated SEV-SNP guest through the enclaivelet, and exits 0 only when
every step did what it should (the refusals refused). Exit 2: Barbican or
cryptsetup is not installed, or bad usage.
"""

import argparse
import importlib.util
import json
import shutil
import sys
import tempfile
import typing
import warnings

from buckypaper_os.enclaivelet import luks

EXIT_OK, EXIT_FAILED, EXIT_MISSING = 0, 1, 2
INSTALL_BARBICAN = ("Barbican is not installed in this Python: pip install "
                    "'buckypaper-os[barbican]'")
INSTALL_CRYPTSETUP = ('cryptsetup is not installed: apt-get install '
                      'cryptsetup-bin')


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog='buckypaper-os')
    commands = parser.add_subparsers(dest='command', required=True)
    demo = commands.add_parser(
        'demo', help='run the whole flow and three refusals on this machine')
    demo.add_argument('--json', action='store_true',
                      help='print a machine-readable summary on stdout')
    demo.add_argument('--transport-url', help='an oslo.messaging broker '
                      '(default: in-process fake://)')
    demo.add_argument('--keep', metavar='DIR', help='work in DIR and keep '
                      'it (logs, databases, the image)')
    return parser


def table(steps) -> str:
    width = max(len(s.name) for s in steps)
    lines = ['%-*s  %-8s  %-8s  %s' % (width, 'step', 'expected', 'outcome',
                                       'result'),
             '-' * (width + 32)]
    lines += ['%-*s  %-8s  %-8s  %s' % (width, s.name, s.expected,
                                        s.outcome, 'ok' if s.ok else 'FAIL')
              for s in steps]
    return '\n'.join(lines)


def demo(args) -> int:
    out = sys.stderr if args.json else sys.stdout

    def say(message: str) -> None:
        print(message, file=out, flush=True)

    if importlib.util.find_spec('barbican') is None:
        print('buckypaper-os demo: %s' % INSTALL_BARBICAN, file=sys.stderr)
        return EXIT_MISSING
    try:
        luks.cryptsetup()
    except luks.LuksError:
        print('buckypaper-os demo: %s' % INSTALL_CRYPTSETUP,
              file=sys.stderr)
        return EXIT_MISSING
    warnings.filterwarnings('ignore', message=r'\s*Eventlet is deprecated')
    from buckypaper_os.demo import flow
    root = args.keep or tempfile.mkdtemp(prefix='buckypaper-demo-')
    say('buckypaper-os demo in %s (simulated SEV-SNP guest: NOT genuine '
        'hardware evidence)' % root)
    run = flow.Demo(root, say, args.transport_url)
    try:
        ok = run.run()
    finally:
        if not args.keep:
            shutil.rmtree(root, ignore_errors=True)
    say('')
    say(table(run.steps))
    say('\n%s' % ('every step did what it should' if ok
                  else 'SOME STEPS DID NOT DO WHAT THEY SHOULD'))
    if args.json:
        print(json.dumps({
            'ok': ok, 'instance': run.instance,
            'transport': run.stack.transport_url,
            'steps': [dict(s._asdict(), ok=s.ok) for s in run.steps]},
            indent=2))
    return EXIT_OK if ok else EXIT_FAILED


def main(argv: typing.Optional[typing.Sequence[str]] = None) -> int:
    args = build_parser().parse_args(argv)
    if args.command == 'demo':
        return demo(args)
    return EXIT_MISSING


if __name__ == '__main__':
    sys.exit(main())
