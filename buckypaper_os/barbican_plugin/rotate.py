"""``buckypaper-vault-rotate-kek``: re-wrap project keys to the newest KEK.

Run it with Barbican's configuration after appending a new file to
``[buckypaper_vault] kek_files``; when it reports no key left under an
old KEK, that file can leave the list. ``--generate PATH`` writes a new
random KEK file (mode 0600) first.
"""

import argparse
import base64
import os
import sys
import typing

from oslo_config import cfg

from buckypaper_os.barbican_plugin import db
from buckypaper_os.barbican_plugin import envelope
from buckypaper_os.barbican_plugin import keyring as keyring_mod
from buckypaper_os.conf import vault as vault_conf


def generate(path: str) -> str:
    """Write a new KEK (base64 text) to a new file ``path``; its id."""
    kek = envelope.new_key()
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, 'wb') as f:
        f.write(base64.b64encode(kek) + b'\n')
    return keyring_mod.kek_id(kek)


def main(argv: typing.Optional[typing.Sequence[str]] = None) -> int:
    parser = argparse.ArgumentParser(prog='buckypaper-vault-rotate-kek',
                                     description=__doc__.splitlines()[0])
    parser.add_argument('--config-file', action='append', default=[],
                        help='barbican.conf (repeatable)')
    parser.add_argument('--generate', metavar='PATH',
                        help='write a new KEK file and exit')
    args = parser.parse_args(argv)
    if args.generate:
        print('new KEK %s in %s; append it to [buckypaper_vault] '
              'kek_files' % (generate(args.generate), args.generate))
        return 0
    conf = cfg.ConfigOpts()
    vault_conf.register_opts(conf)
    conf([], project='barbican', default_config_files=args.config_file
         or None)
    options = conf.buckypaper_vault
    if not options.connection:
        print('[buckypaper_vault] connection is not set', file=sys.stderr)
        return 2
    try:
        keyring = keyring_mod.Keyring(options.kek_files,
                                      db.get_engine(options.connection))
        rewrapped, total = keyring.rotate()
    except (keyring_mod.KeyringError, envelope.EnvelopeError) as exc:
        print('rotation failed: %s' % exc, file=sys.stderr)
        return 1
    print('re-wrapped %d of %d project keys to KEK %s'
          % (rewrapped, total, keyring.current_id))
    for kek, count in sorted(keyring.kek_usage().items()):
        print('KEK %s wraps %d project keys' % (kek, count))
    return 0


if __name__ == '__main__':
    sys.exit(main())
