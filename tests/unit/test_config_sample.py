"""The committed sample configuration is what oslo-config-generator makes."""

import os
import subprocess
import sys

from tests import vectors

GENERATOR_CONF = os.path.join(vectors.ROOT, 'etc', 'oslo-config-generator',
                              'buckypaper.conf')
SAMPLE = os.path.join(vectors.ROOT, 'etc', 'buckypaper',
                      'buckypaper.conf.sample')


def test_sample_is_current(tmp_path):
    out = tmp_path / 'sample.conf'
    subprocess.run(
        [sys.executable, '-m', 'oslo_config.generator', '--config-file',
         GENERATOR_CONF, '--output-file', str(out)],
        check=True, cwd=vectors.ROOT)
    with open(SAMPLE) as f:
        committed = f.read()
    assert out.read_text() == committed, (
        'etc/buckypaper/buckypaper.conf.sample is stale: run tox -e genconfig')


def test_every_option_has_help():
    from buckypaper_os.conf import opts
    from buckypaper_os.conf import vault
    # keystoneauth's options keep keystoneauth's (shorter) help texts.
    library = {opt.dest for opt in vault.keystone_opts()}
    groups = opts.list_opts()
    assert groups
    for group, options in groups:
        for opt in options:
            if group is vault.RELEASE_GROUP and opt.dest in library:
                continue
            assert opt.help and len(opt.help) > 20, (group, opt.name)
