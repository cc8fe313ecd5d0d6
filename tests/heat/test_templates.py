"""heat/ templates against openstack-heat's own parser and resource schemas.

Runs in ``tox -e heat`` (openstack-heat from PyPI in its own venv); skips
elsewhere. Each template is parsed by Heat's template parser and
validated as a HOT template; every resource type must exist in Heat's
registry (with our plugin loaded from ``plugin_dirs``, see conftest.py)
and not be hidden, every property must be in the type's
properties schema (required ones present, literal values of the right
type), every get_attr must name an attribute of the type, and every
get_param / get_resource must name a declared parameter / resource.
"""

import glob
import os

import pytest

pytest.importorskip('heat.engine.resources')

from heat.common import template_format  # noqa: E402
from heat.engine import properties as properties_mod  # noqa: E402
from heat.engine import support  # noqa: E402
from heat.engine import template  # noqa: E402

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(
    os.path.abspath(__file__))))
TEMPLATES = sorted(glob.glob(os.path.join(ROOT, 'heat', '*.yaml')))
PSEUDO = {'OS::stack_name', 'OS::stack_id', 'OS::project_id'}


def _functions(node, name):
    """Arguments of every ``{name: args}`` in ``node``."""
    if isinstance(node, dict):
        for key, value in node.items():
            if key == name:
                yield value
            yield from _functions(value, name)
    elif isinstance(node, list):
        for item in node:
            yield from _functions(item, name)


def _literal(value):
    """``value`` with intrinsic functions replaced by nothing (unchecked)."""
    if isinstance(value, dict):
        if len(value) == 1 and next(iter(value)).startswith(
                ('get_', 'str_', 'list_', 'repeat', 'digest', 'yaql',
                 'if', 'map_', 'equals', 'filter', 'contains')):
            return None
        return {k: _literal(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_literal(v) for v in value]
    return value


def _check_resource(env, name, definition, problems):
    try:
        cls = env.get_class(definition['type'])
    except Exception as exc:
        problems.append('%s: %s' % (name, exc))
        return None
    if cls.support_status.status == support.HIDDEN:
        problems.append('%s: %s is hidden' % (name, definition['type']))
    data = {key: _literal(value) for key, value in
            (definition.get('properties') or {}).items()}
    unknown = sorted(set(data) - set(cls.properties_schema))
    if unknown:
        problems.append('%s: unknown properties of %s: %s'
                        % (name, definition['type'], unknown))
        return cls
    props = properties_mod.Properties(
        cls.properties_schema,
        {k: v for k, v in data.items() if v is not None},
        resolver=lambda value: value)
    missing = sorted(
        key for key, schema in props.props.items()
        if schema.required() and key not in data)
    if missing:
        problems.append('%s: missing required properties %s'
                        % (name, missing))
    for key, value in data.items():
        if value is None or _has_none(value):
            continue
        try:
            props.props[key].get_value(value, validate=True)
        except Exception as exc:
            problems.append('%s: property %s: %s' % (name, key, exc))
    return cls


def _has_none(value):
    if isinstance(value, dict):
        return any(_has_none(v) for v in value.values())
    if isinstance(value, list):
        return any(_has_none(v) for v in value)
    return value is None


@pytest.mark.parametrize('path', TEMPLATES,
                         ids=[os.path.basename(p) for p in TEMPLATES])
def test_template_uses_only_existing_types_and_properties(env, path):
    with open(path) as f:
        parsed = template_format.parse(f.read())
    tmpl = template.Template(parsed, env=env)
    tmpl.validate()
    resources = parsed['resources']
    parameters = set(parsed.get('parameters') or {}) | PSEUDO
    problems = []
    classes = {}
    for name, definition in resources.items():
        classes[name] = _check_resource(env, name, definition, problems)
        if definition['type'] == 'OS::Heat::ResourceGroup':
            nested = definition['properties']['resource_def']
            _check_resource(env, name + '.resource_def', nested, problems)
    for param in _functions(parsed, 'get_param'):
        param = param[0] if isinstance(param, list) else param
        if param not in parameters:
            problems.append('get_param of undeclared %s' % param)
    for ref in _functions(parsed, 'get_resource'):
        if ref not in resources:
            problems.append('get_resource of undeclared %s' % ref)
    for args in _functions(parsed, 'get_attr'):
        resource, attribute = args[0], args[1]
        cls = classes.get(resource)
        if resource not in resources:
            problems.append('get_attr of undeclared %s' % resource)
        elif cls is not None and attribute not in cls.attributes_schema \
                and attribute not in cls.base_attributes_schema:
            problems.append('%s has no attribute %s' % (resource,
                                                        attribute))
    assert problems == []


def test_checker_catches_mistakes(env):
    problems = []
    _check_resource(env, 'a', {'type': 'OS::Nova::Serverr'}, problems)
    _check_resource(env, 'b', {'type': 'OS::Nova::Server', 'properties': {
        'flavor': 'f', 'confidential': True}}, problems)
    _check_resource(env, 'c', {'type': 'OS::Cinder::Volume', 'properties': {
        'size': 'big'}}, problems)
    _check_resource(env, 'd', {'type': 'OS::Nova::ServerGroup',
                               'properties': {'policies': ['nearby']}},
                    problems)
    assert len(problems) == 4, problems
    assert 'could not be found' in problems[0]
    assert "unknown properties of OS::Nova::Server: ['confidential']" in (
        problems[1])


def test_templates_exist():
    assert [os.path.basename(p) for p in TEMPLATES] == [
        'confidential-server-group.yaml', 'confidential-server.yaml']


def test_plugin_resource_is_checked_too(env):
    problems = []
    _check_resource(env, 'e', {'type': 'OS::Buckypaper::DiskKeyBinding',
                               'properties': {
                                   'secret': {'get_resource': 'disk_key'},
                                   'key_bytes': 16}}, problems)
    assert len(problems) == 2, problems
    assert "missing required properties ['server']" in problems[0]
    assert '16 is not an allowed value' in problems[1]


def test_the_server_template_binds_its_key_to_its_server():
    with open(os.path.join(ROOT, 'heat', 'confidential-server.yaml')) as f:
        resources = template_format.parse(f.read())['resources']
    binding = resources['key_binding']
    assert binding['type'] == 'OS::Buckypaper::DiskKeyBinding'
    assert binding['properties']['server'] == {'get_resource': 'server'}
    assert binding['properties']['secret'] == {'get_resource': 'disk_key'}
    assert resources['disk_key']['type'] == 'OS::Barbican::Secret'
    assert 'payload' not in resources['disk_key']['properties']
    metadata = resources['server']['properties']['metadata']
    assert metadata['buckypaper_secret'] == {'get_resource': 'disk_key'}
