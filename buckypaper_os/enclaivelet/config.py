"""Where the enclaivelet's settings come from, lowest precedence first.

1. OpenStack metadata: the config drive's ``openstack/latest/meta_data.json``
   (``config_drive``), else the metadata service (``metadata_url``), when
   either is set or the default config drive path exists. The instance
   UUID is its ``uuid``; server metadata (``meta``) may carry
   ``buckypaper_nitride_url``, ``buckypaper_secret``,
   ``buckypaper_device`` and ``buckypaper_cipher``.
2. The configuration file (INI, section ``[enclaivelet]``, default
   ``/etc/enclaivelet/enclaivelet.conf``), keys as in :data:`DEFAULTS`.
3. Command-line options.

``secret`` is a Barbican secret id or its href (the id is its last path
segment). ``nitride_keys`` is a file holding Nitride's JWK Set (``GET
/v1/jwks``), baked into the image: a released key is used only with
Nitride's signed receipt (see ``nitride_service.receipt``). Metadata
cannot set it: the host serves the metadata. It is required, since
whoever answers at ``nitride_url`` (an address the host may choose) could
otherwise choose the disk key; ``allow_unpinned = true`` (file or option,
never metadata) lifts that for tests only.
"""

import configparser
import json
import os
import typing
import urllib.request

from buckypaper_os.nitride_service import jwk

DEFAULT_FILE = '/etc/enclaivelet/enclaivelet.conf'
CONFIG_DRIVE = '/mnt/config/openstack/latest/meta_data.json'
DEFAULTS = {
    'instance_uuid': '',
    'nitride_url': '',
    'secret': '',
    'device': '',
    'mapping': 'enclaivelet',
    'cipher': 'aes-xts',
    'check_only': 'false',
    'format': 'true',
    'tsm_root': '/sys/kernel/config/tsm/report',
    'sev_device': '/dev/sev-guest',
    'retries': '8',
    'backoff': '1.0',
    'max_backoff': '30.0',
    'timeout': '30',
    'device_wait': '600',
    'config_drive': '',
    'metadata_url': '',
    'nitride_keys': '',
    'allow_unpinned': 'false',
}
REQUIRED = ('instance_uuid', 'nitride_url', 'secret', 'device')
_META_KEYS = {'buckypaper_nitride_url': 'nitride_url',
              'buckypaper_secret': 'secret',
              'buckypaper_device': 'device',
              'buckypaper_cipher': 'cipher'}


class ConfigError(Exception):
    """A missing or unreadable setting."""


def from_metadata(document: dict) -> typing.Dict[str, str]:
    """Settings carried by an OpenStack ``meta_data.json``.

    Raises :class:`ConfigError` if it or its ``meta`` is not an object.
    """
    if not isinstance(document, dict):
        raise ConfigError('instance metadata is not a JSON object')
    values = {}
    if document.get('uuid'):
        values['instance_uuid'] = str(document['uuid'])
    meta = document.get('meta') or {}
    if not isinstance(meta, dict):
        raise ConfigError('instance metadata: meta is not a JSON object')
    for key, name in _META_KEYS.items():
        if meta.get(key):
            values[name] = str(meta[key])
    return values


def _metadata(settings: dict) -> typing.Dict[str, str]:
    path = settings.get('config_drive') or (
        CONFIG_DRIVE if os.path.exists(CONFIG_DRIVE) else '')
    try:
        if path:
            with open(path) as f:
                return from_metadata(json.load(f))
        if settings.get('metadata_url'):
            with urllib.request.urlopen(settings['metadata_url'],
                                        timeout=10) as answer:
                return from_metadata(json.loads(answer.read()))
    except (OSError, ValueError) as exc:
        raise ConfigError('cannot read instance metadata: %s' % exc
                          ) from None
    return {}


def _file(path: str, required: bool) -> typing.Dict[str, str]:
    parser = configparser.ConfigParser(interpolation=None)
    try:
        with open(path) as f:
            parser.read_file(f)
    except FileNotFoundError:
        if required:
            raise ConfigError('no configuration file %s' % path) from None
        return {}
    except (OSError, UnicodeDecodeError, configparser.Error) as exc:
        raise ConfigError('cannot read %s: %s' % (path, exc)) from None
    if not parser.has_section('enclaivelet'):
        return {}
    unknown = set(parser['enclaivelet']) - set(DEFAULTS)
    if unknown:
        raise ConfigError('%s: unknown keys %s' % (path, ', '.join(
            sorted(unknown))))
    return dict(parser['enclaivelet'])


def load(path: typing.Optional[str],
         overrides: typing.Mapping[str, typing.Optional[str]]
         ) -> typing.Dict[str, typing.Any]:
    """The effective settings, typed and checked."""
    from_file = _file(path or DEFAULT_FILE, required=bool(path))
    given = {k: v for k, v in overrides.items() if v is not None}
    locate = {**DEFAULTS, **from_file, **given}
    settings = {**DEFAULTS, **_metadata(locate), **from_file, **given}
    missing = [k for k in REQUIRED if not settings[k]]
    if missing:
        raise ConfigError('missing settings: %s (config file, metadata or '
                          'options)' % ', '.join(missing))
    settings['secret'] = settings['secret'].rstrip('/').rsplit('/', 1)[-1]
    try:
        for key in ('check_only', 'format', 'allow_unpinned'):
            settings[key] = _bool(settings[key])
        settings['retries'] = int(settings['retries'])
        for key in ('backoff', 'max_backoff', 'timeout', 'device_wait'):
            settings[key] = float(settings[key])
    except ValueError as exc:
        raise ConfigError(str(exc)) from None
    settings['nitride_keys'] = _pinned_keys(settings['nitride_keys'])
    if settings['nitride_keys'] is None and not settings['allow_unpinned']:
        raise ConfigError('nitride_keys is not set: without Nitride\'s '
                          'pinned keys whoever answers at nitride_url could '
                          'choose the disk key (allow_unpinned = true: '
                          'tests only)')
    return settings


def _pinned_keys(path: str) -> typing.Optional[list]:
    """The public keys in the JWK Set file ``path``; None if unset."""
    if not path:
        return None
    try:
        with open(path, encoding='utf-8') as f:
            keys = jwk.from_jwks(json.load(f))
    except (OSError, ValueError, TypeError, KeyError, RecursionError) as exc:
        raise ConfigError('cannot read nitride_keys %s: %s' % (path, exc)
                          ) from None
    if not keys:
        raise ConfigError('nitride_keys %s holds no key' % path)
    return keys


def _bool(value) -> bool:
    if isinstance(value, bool):
        return value
    text = str(value).strip().lower()
    if text in ('1', 'true', 'yes', 'on'):
        return True
    if text in ('0', 'false', 'no', 'off'):
        return False
    raise ValueError('not a boolean: %r' % value)
