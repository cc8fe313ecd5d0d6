"""Arbitrary configuration files and instance metadata: ConfigError only.

The enclaivelet reads its INI file and the config drive's
``meta_data.json`` (written by whoever controls the host); whatever they
hold, :func:`config.load` returns checked settings or raises
:class:`config.ConfigError`, which the CLI reports (exit code 2).
"""

import json
import os
import tempfile

from hypothesis import given
from hypothesis import strategies as st

from buckypaper_os.enclaivelet import config
from tests import fuzzing

REQUIRED = {'instance_uuid': '0b8c1e4a-3a43-4c8e-9a5e-8d2f5a1c9d10',
            'nitride_url': 'http://127.0.0.1:9797', 'secret': 's',
            'device': '/dev/vdb'}
INI_LINES = st.one_of(
    st.sampled_from(['[enclaivelet]', '[DEFAULT]', '[other]', '']),
    st.tuples(st.sampled_from(sorted(config.DEFAULTS) + ['bogus']),
              st.sampled_from(['=', ':', ' = ']), st.text(max_size=20)).map(
        ''.join),
    st.text(max_size=40))


def _load(files: dict, overrides: dict):
    with tempfile.TemporaryDirectory() as root:
        paths = {}
        for name, data in files.items():
            paths[name] = os.path.join(root, name)
            with open(paths[name], 'wb') as f:
                f.write(data)
        overrides = {key: paths.get(value, value)
                     for key, value in overrides.items()}
        try:
            settings = config.load(paths.get('enclaivelet.conf'), overrides)
        except config.ConfigError as exc:
            assert str(exc)
            return None
    assert all(settings[key] for key in config.REQUIRED)
    assert isinstance(settings['retries'], int)
    return settings


@fuzzing.SETTINGS
@given(st.one_of(st.binary(max_size=512), st.lists(INI_LINES, max_size=8).map(
    lambda lines: '\n'.join(lines).encode('utf-8', 'surrogatepass'))))
def test_arbitrary_config_file(data):
    _load({'enclaivelet.conf': data}, REQUIRED)


@fuzzing.SETTINGS
@given(st.one_of(
    st.binary(max_size=256),
    fuzzing.JSON.map(lambda v: json.dumps(v).encode()),
    st.fixed_dictionaries({'uuid': fuzzing.JSON, 'meta': st.one_of(
        fuzzing.JSON, st.dictionaries(st.sampled_from(sorted(
            config._META_KEYS)), fuzzing.JSON))}).map(
        lambda v: json.dumps(v).encode())))
def test_arbitrary_instance_metadata(data):
    settings = _load({'meta_data.json': data},
                     dict(config_drive='meta_data.json'))
    if settings is not None:
        document = json.loads(data)
        assert settings['instance_uuid'] == str(document['uuid'])


def test_config_file_not_utf8_and_metadata_not_an_object():
    """Regression: UnicodeDecodeError and AttributeError escaped."""
    assert _load({'enclaivelet.conf': b'[enclaivelet]\n\x80'}, {}) is None
    for document in (b'null', b'[]', b'{"uuid": "u", "meta": [1]}'):
        assert _load({'meta_data.json': document},
                     dict(REQUIRED, config_drive='meta_data.json')) is None
