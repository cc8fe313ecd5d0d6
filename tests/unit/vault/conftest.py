"""The Vault's database, made by its migrations."""

import pytest

from buckypaper_os.barbican_plugin import db
from buckypaper_os.barbican_plugin import migration


@pytest.fixture
def connection(tmp_path):
    """URL of a fresh Vault database migrated to the newest revision."""
    url = 'sqlite:///%s' % (tmp_path / 'vault.sqlite')
    migration.upgrade(db.get_engine(url))
    yield url
    db.dispose()
