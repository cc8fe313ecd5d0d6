import json

import pytest

from buckypaper_os.enclaivelet import cli
from buckypaper_os.enclaivelet import config


def test_layers(tmp_path):
    drive = tmp_path / 'meta_data.json'
    drive.write_text(json.dumps({
        'uuid': '0b8c1e4a-3a43-4c8e-9a5e-8d2f5a1c9d10',
        'meta': {'buckypaper_nitride_url': 'http://meta:9797',
                 'buckypaper_secret': 'http://kms/v1/secrets/abc',
                 'buckypaper_device': '/dev/vdb'}}))
    conf = tmp_path / 'enclaivelet.conf'
    conf.write_text('[enclaivelet]\nconfig_drive = %s\n'
                    'nitride_url = http://file:9797\n' % drive)
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
