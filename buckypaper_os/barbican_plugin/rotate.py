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

from buckypaper_os.barbican_plugin import envelope
from buckypaper_os.barbican_plugin import keyring as keyring_mod
from buckypaper_os.barbican_plugin import manage
from buckypaper_os.barbican_plugin import migration


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
    conf = manage.load_conf(args.config_file)
    engine = manage.engine_of(conf)
    if engine is None:
        return 2
    try:
        migration.ensure(engine, auto_create=False)
        keyring = keyring_mod.Keyring(conf.buckypaper_vault.kek_files,
                                      engine)
        rewrapped, total = keyring.rotate()
    except (keyring_mod.KeyringError, envelope.EnvelopeError,
            migration.SchemaError) as exc:
        print('rotation failed: %s' % exc, file=sys.stderr)
        return 1
    print('re-wrapped %d of %d project keys to KEK %s'
          % (rewrapped, total, keyring.current_id))
    for kek, count in sorted(keyring.kek_usage().items()):
        print('KEK %s wraps %d project keys' % (kek, count))
    return 0


if __name__ == '__main__':
    sys.exit(main())
