"""``enclaivelet``: unlock this confidential VM's LUKS2 volume.

Exit codes (also in ``doc/enclaivelet.md``)::

    0  unlocked (or formatted on first boot, then unlocked)
    1  unexpected error
    2  bad configuration or usage
    3  Nitride or Barbican unreachable after every retry
    4  attestation refused
    5  release refused (or the released key did not open)
    6  no evidence: no configfs-tsm or /dev/sev-guest, or it failed
    7  volume error (cryptsetup, not LUKS2 and not blank)
    8  the released key does not open the volume

``--once`` makes one attempt (no retries): for a systemd unit that
restarts on failure, or a human at a console.
"""

import argparse
import sys
import typing

from buckypaper_os.enclaivelet import agent
from buckypaper_os.enclaivelet import config

EXIT_OK = 0
EXIT_ERROR = 1
EXIT_CONFIG = 2
EXIT_UNREACHABLE = 3
EXIT_ATTEST_REFUSED = 4
EXIT_RELEASE_REFUSED = 5
EXIT_NO_EVIDENCE = 6
EXIT_VOLUME = 7
EXIT_WRONG_KEY = 8


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> typing.NoReturn:
        self.exit(EXIT_CONFIG, '%s: error: %s\n' % (self.prog, message))


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog='enclaivelet', description=(
        'Attest this confidential VM to Nitride, obtain its sealed disk '
        'key and open (first boot: format) its LUKS2 volume.'))
    parser.add_argument('--config', metavar='FILE', help='INI file, '
                        'section [enclaivelet] (default %s if present)'
                        % config.DEFAULT_FILE)
    for key in ('instance_uuid', 'nitride_url', 'secret', 'device',
                'mapping', 'cipher', 'tsm_root', 'sev_device', 'retries',
                'backoff', 'config_drive', 'metadata_url', 'timeout',
                'nitride_keys', 'device_wait'):
        parser.add_argument('--' + key.replace('_', '-'), dest=key)
    parser.add_argument('--check-only', dest='check_only',
                        action='store_const', const='true',
                        help='verify the key with cryptsetup '
                        '--test-passphrase instead of mapping the volume')
    parser.add_argument('--no-format', dest='format', action='store_const',
                        const='false', help='never format a blank volume')
    parser.add_argument('--allow-unpinned', dest='allow_unpinned',
                        action='store_const', const='true',
                        help='TESTS ONLY: use a released key without '
                        'Nitride\'s receipt when nitride_keys is not set')
    parser.add_argument('--once', action='store_true',
                        help='one attempt, no retries')
    parser.add_argument('--quiet', action='store_true')
    return parser


def _exit_code(failure: agent.Failure) -> int:
    if failure.status in agent.TRANSIENT:
        return EXIT_UNREACHABLE
    return {'challenge': EXIT_ATTEST_REFUSED,
            'attest': EXIT_ATTEST_REFUSED,
            'release': EXIT_RELEASE_REFUSED,
            'evidence': EXIT_NO_EVIDENCE,
            'unlock': EXIT_VOLUME,
            'unlock-wrong-key': EXIT_WRONG_KEY}.get(failure.stage,
                                                    EXIT_ERROR)


def main(argv: typing.Optional[typing.Sequence[str]] = None) -> int:
    args = build_parser().parse_args(argv)
    overrides = {key: getattr(args, key) for key in config.DEFAULTS
                 if hasattr(args, key)}
    if args.once:
        overrides['retries'] = '0'

    def say(message: str) -> None:
        if not args.quiet:
            print('enclaivelet: %s' % message, flush=True)

    try:
        settings = config.load(args.config, overrides)
        if settings['cipher'] not in agent.luks.CIPHERS:
            raise config.ConfigError('unknown cipher %r (one of %s)' % (
                settings['cipher'], ', '.join(agent.luks.CIPHERS)))
        agent.unlock(settings, say)
    except config.ConfigError as exc:
        print('enclaivelet: configuration error: %s' % exc, file=sys.stderr)
        return EXIT_CONFIG
    except agent.Failure as exc:
        code = _exit_code(exc)
        label = ('unreachable' if code == EXIT_UNREACHABLE
                 else '%s failed' % exc.stage)
        print('enclaivelet: %s: %s; the volume stays locked'
              % (label, exc), file=sys.stderr)
        return code
    except Exception as exc:  # fail closed, say what happened
        print('enclaivelet: unexpected error: %s: %s'
              % (type(exc).__name__, exc), file=sys.stderr)
        return EXIT_ERROR
    return EXIT_OK


if __name__ == '__main__':
    sys.exit(main())
