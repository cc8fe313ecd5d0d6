import json

from cryptography.hazmat.primitives.asymmetric import ec
import pytest

from buckypaper_os.enclaivelet import cli
from buckypaper_os.enclaivelet import config
from buckypaper_os.nitride_service import jwk


def test_layers(tmp_path):
    drive = tmp_path / 'meta_data.json'
    drive.write_text(json.dumps({
        'uuid': '0b8c1e4a-3a43-4c8e-9a5e-8d2f5a1c9d10',
        'meta': {'buckypaper_nitride_url': 'http://meta:9797',
                 'buckypaper_secret': 'http://kms/v1/secrets/abc',
                 'buckypaper_device': '/dev/vdb'}}))
    conf = tmp_path / 'enclaivelet.conf'
    conf.write_text('[enclaivelet]\nconfig_drive = %s\n'
                    'nitride_url = http://file:9797\n'
                    'allow_unpinned = true\n' % drive)
    settings = config.load(str(conf), {'device': '/dev/vdc',
                                       'mapping': None})
    assert settings['instance_uuid'].startswith('0b8c1e4a')
    assert settings['nitride_url'] == 'http://file:9797'
    assert settings['secret'] == 'abc'
    assert settings['device'] == '/dev/vdc'
    assert settings['mapping'] == 'enclaivelet'
    assert settings['check_only'] is False and settings['retries'] == 8


def test_errors(tmp_path, capsys):
    conf = tmp_path / 'c.conf'
    conf.write_text('[enclaivelet]\nnitride_url = http://x\nbogus = 1\n')
    with pytest.raises(config.ConfigError, match='unknown keys bogus'):
        config.load(str(conf), {})
    with pytest.raises(config.ConfigError, match='no configuration file'):
        config.load(str(tmp_path / 'none.conf'), {})
    assert cli.main(['--config', str(tmp_path / 'none.conf')]) == 2
    assert 'configuration error' in capsys.readouterr().err
    conf.write_text('[enclaivelet]\nnitride_url = http://x\n')
    assert cli.main(['--config', str(conf)]) == 2
    assert 'missing settings: instance_uuid, secret, device' in \
        capsys.readouterr().err


def test_pinned_nitride_keys(tmp_path):
    drive = tmp_path / 'meta_data.json'
    drive.write_text(json.dumps({
        'uuid': '0b8c1e4a-3a43-4c8e-9a5e-8d2f5a1c9d10',
        'meta': {'buckypaper_nitride_keys': '/tmp/host-chosen.json'}}))
    base = ('[enclaivelet]\nconfig_drive = %s\nnitride_url = http://n\n'
            'secret = s\ndevice = /dev/vdb\n' % drive)
    conf = tmp_path / 'enclaivelet.conf'
    conf.write_text(base)
    # Not from metadata (the host serves it); and none is no key at all.
    with pytest.raises(config.ConfigError, match='nitride_keys is not set'):
        config.load(str(conf), {})
    settings = config.load(str(conf), {'allow_unpinned': 'true'})
    assert settings['nitride_keys'] is None
    assert settings['allow_unpinned'] is True
    key = ec.generate_private_key(ec.SECP384R1()).public_key()
    jwks = tmp_path / 'jwks.json'
    jwks.write_text(json.dumps(jwk.to_jwks([key])))
    conf.write_text(base + 'nitride_keys = %s\n' % jwks)
    assert config.load(str(conf), {})['nitride_keys'] == [key]
    for content in ('{"keys": []}', '{', '{"keys": [{"kty": "oct"}]}'):
        jwks.write_text(content)
        with pytest.raises(config.ConfigError, match='nitride_keys'):
            config.load(str(conf), {})
