"""etc/enclaivelet/Containerfile: a lint, since no image is built in CI.

Building needs podman (or buildah) and a Debian base image, which CI has
no registry for; doc/enclaivelet.md shows how the image was built and run
without one. This checks what a build would trip over: every COPY source
and every file a RUN step reads from the context exists and is not
excluded by .containerignore, the entrypoint is the enclaivelet console
script with its default configuration file, and the guest's requirements
are the project's own lines.
"""

import configparser
import fnmatch
import json
import os
import re
import shlex
import subprocess
import sys

from buckypaper_os.enclaivelet import config

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(
    os.path.abspath(__file__)))))
CONTAINERFILE = os.path.join(ROOT, 'etc', 'enclaivelet', 'Containerfile')


def instructions(path=CONTAINERFILE):
    """(INSTRUCTION, arguments) pairs, continuation lines joined."""
    with open(path) as f:
        text = re.sub(r'\\\n', ' ', f.read())
    result = []
    for line in text.splitlines():
        line = line.strip()
        if line and not line.startswith('#'):
            word, _, rest = line.partition(' ')
            result.append((word.upper(), rest.strip()))
    return result


def ignored(relative):
    """Whether .containerignore leaves ``relative`` out of the context."""
    with open(os.path.join(ROOT, '.containerignore')) as f:
        patterns = [p.strip() for p in f if p.strip()
                    and not p.startswith('#')]
    parts = relative.split('/')
    prefixes = ['/'.join(parts[:n]) for n in range(1, len(parts) + 1)]
    return any(fnmatch.fnmatch(prefix, pattern.lstrip('*/'))
               or fnmatch.fnmatch(prefix, pattern)
               for pattern in patterns for prefix in prefixes)


def test_copy_sources_exist_in_the_context():
    copies = [shlex.split(args) for word, args in instructions()
              if word in ('COPY', 'ADD')]
    assert copies == [['.', '/src']]
    for *sources, _ in copies:
        for source in sources:
            assert os.path.exists(os.path.join(ROOT, source)), source
            assert source == '.' or not ignored(source)


def test_files_run_reads_from_the_context_are_there():
    runs = ' '.join(args for word, args in instructions() if word == 'RUN')
    used = sorted(set(re.findall(r'/src/([\w./-]+)', runs)))
    assert used == ['etc/enclaivelet/requirements.txt']
    for relative in used:
        assert os.path.isfile(os.path.join(ROOT, relative))
        assert not ignored(relative)
    # The package's own files are in the context; the bulky ones are not.
    assert not ignored('buckypaper_os/enclaivelet/cli.py')
    assert not ignored('setup.cfg')
    for bulky in ('.tox', '.git', '.venv', 'buckypaper_os/__pycache__'):
        assert ignored(bulky), bulky


def test_entrypoint_is_the_console_script():
    [entrypoint] = [args for word, args in instructions()
                    if word == 'ENTRYPOINT']
    program, *arguments = json.loads(entrypoint)
    setup = configparser.ConfigParser()
    setup.read(os.path.join(ROOT, 'setup.cfg'))
    scripts = dict(
        line.split(' = ') for line in
        setup['entry_points']['console_scripts'].strip().splitlines())
    name = os.path.basename(program)
    assert scripts[name] == 'buckypaper_os.enclaivelet.cli:main'
    assert program == '/opt/enclaivelet/bin/' + name
    assert arguments == ['--config', config.DEFAULT_FILE]
    runs = ' '.join(args for word, args in instructions() if word == 'RUN')
    assert 'python3 -m venv /opt/enclaivelet' in runs


def test_guest_requirements_are_the_projects():
    def lines(path):
        with open(os.path.join(ROOT, path)) as f:
            return [line.strip() for line in f
                    if line.strip() and not line.startswith('#')]
    guest = lines('etc/enclaivelet/requirements.txt')
    assert guest and set(guest) <= set(lines('requirements.txt'))


def test_lint_sees_a_missing_source(tmp_path):
    broken = tmp_path / 'Containerfile'
    broken.write_text('FROM x\nCOPY no-such-dir \\\n  /src\n')
    [(word, args)] = instructions(str(broken))[1:]
    assert (word, shlex.split(args)) == ('COPY', ['no-such-dir', '/src'])
    assert not os.path.exists(os.path.join(ROOT, 'no-such-dir'))
    assert ignored('.tox/py3') and not ignored('heat/x.yaml')


def test_the_guest_imports_only_its_requirements():
    """The enclaivelet runs with etc/enclaivelet/requirements.txt alone."""
    code = ('import sys; before = set(sys.modules); '
            'import buckypaper_os.enclaivelet.cli; '
            'print(" ".join({m.split(".")[0] for m in set(sys.modules) - '
            'before} - set(sys.stdlib_module_names)))')
    loaded = subprocess.run([sys.executable, '-c', code], check=True,
                            capture_output=True, text=True).stdout.split()
    with open(os.path.join(ROOT, 'etc', 'enclaivelet',
                           'requirements.txt')) as f:
        wanted = {line.split('>=')[0].strip().lower() for line in f
                  if line.strip() and not line.startswith('#')}
    modules = {'cryptography': 'cryptography', 'pyjwt': 'jwt', 'pbr': 'pbr'}
    # cryptography imports bcrypt when it is installed (SSH keys).
    allowed = {modules[name] for name in wanted} | {'buckypaper_os',
                                                    'bcrypt'}
    assert set(m for m in loaded if not m.startswith('_')) <= allowed
