"""Nitride with a SQLite database, token and decision keys, a simulated TEE.
"""

import base64

import pytest

from buckypaper_os import conf as bp_conf
from buckypaper_os.demo import nitride_keys
from buckypaper_os.nitride_service.db import api as db_api
from buckypaper_os.nitride_service.db import migration
from buckypaper_os.nitride_service import decision
from buckypaper_os.nitride_service import engine as engine_mod

CONF = bp_conf.CONF


@pytest.fixture(scope='session')
def token_key_file(tmp_path_factory) -> str:
    return nitride_keys.token_key(str(tmp_path_factory.mktemp('keys')))[0]


@pytest.fixture(scope='session')
def decision_key_file(tmp_path_factory) -> str:
    return nitride_keys.decision_key(
        str(tmp_path_factory.mktemp('keys')))[0]


@pytest.fixture
def nitride_conf(tmp_path, token_key_file, decision_key_file, pki_dir):
    """CONF of a Nitride that trusts the session's simulated TEE."""
    CONF([], project='buckypaper', default_config_files=[])
    overrides = {('database', 'connection'):
                 'sqlite:///%s' % (tmp_path / 'nitride.sqlite'),
                 ('nitride', 'token_key_file'): token_key_file,
                 ('nitride', 'decision_key_file'): decision_key_file,
                 ('nitride', 'simulated_tee_trust_dir'): pki_dir}
    for (group, name), value in overrides.items():
        CONF.set_override(name, value, group=group)
    db_api.dispose_engine()
    migration.upgrade(db_api.get_engine())
    yield CONF
    db_api.dispose_engine()
    for group, name in overrides:
        CONF.clear_override(name, group=group)


@pytest.fixture
def engine(nitride_conf, decision_key_file):
    """An RPC worker's engine: it holds the decision key."""
    return engine_mod.Engine(
        nitride_conf, decision_key=decision.load_private_key(
            decision_key_file))


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


def refused(call, *args, **kwargs) -> engine_mod.Refused:
    """The :class:`Refused` that ``call(*args, **kwargs)`` raises."""
    with pytest.raises(engine_mod.Refused) as exc:
        call(*args, **kwargs)
    return exc.value
