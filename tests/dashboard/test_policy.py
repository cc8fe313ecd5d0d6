"""Panels follow Nitride's oslo.policy rules, with the operator's overrides.

The request is a stand-in carrying what Horizon's user object has (id,
project, role names); the enforcer, rules and policy file are real.
"""

import types

import pytest

pytest.importorskip('openstack_dashboard')

from django.conf import settings  # noqa: E402

from buckypaper_os.dashboard import policy  # noqa: E402


def _request(project: str, *roles: str):
    return types.SimpleNamespace(user=types.SimpleNamespace(
        id='user', project_id=project,
        roles=[{'name': role} for role in roles]))


@pytest.fixture
def overrides(tmp_path):
    """Operator overrides: readers may see the firmware catalog."""
    rules = tmp_path / 'policy.yaml'
    rules.write_text('"nitride:firmware:list": "role:admin or role:reader"\n')
    conf = tmp_path / 'buckypaper.conf'
    conf.write_text('[oslo_policy]\npolicy_file = %s\n' % rules)
    if not settings.configured:
        settings.configure()
    settings.BUCKYPAPER_CONFIG_FILES = [str(conf)]
    policy._ENFORCER = None
    yield
    policy._ENFORCER = None
    del settings.BUCKYPAPER_CONFIG_FILES


def test_members_see_their_project_only(overrides):
    member = _request('alpha', 'member')
    assert policy.allowed(member, 'nitride:instance:status', 'alpha')
    assert not policy.allowed(member, 'nitride:instance:status', 'beta')
    assert not policy.allowed(member, 'nitride:instance:reference')
    assert not policy.allowed(member, 'nitride:policy:set')


def test_admins_and_the_operators_overrides(overrides):
    admin = _request('admin', 'admin')
    for rule in ('nitride:instance:reference', 'nitride:policy:get',
                 'nitride:policy:set', 'nitride:firmware:list'):
        assert policy.allowed(admin, rule)
    reader = _request('alpha', 'reader')
    assert policy.allowed(reader, 'nitride:firmware:list')
    assert not policy.allowed(reader, 'nitride:policy:get')
