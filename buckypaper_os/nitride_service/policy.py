"""Who may do what: oslo.policy rules of Nitride's administrative calls.

Guests never authenticate to Keystone; their calls (challenge, attest,
release) are authorized by evidence and tickets instead, not here.
"""

import typing

from oslo_config import cfg
from oslo_context import context as context_mod
from oslo_policy import policy

ADMIN_OR_SERVICE = 'role:admin or role:service'
ADMIN_OR_OWNER = 'role:admin or project_id:%(project_id)s'


def _rule(name: str, check: str, description: str,
          call: str) -> policy.DocumentedRuleDefault:
    return policy.DocumentedRuleDefault(
        name, check, description, [{'method': 'RPC', 'path': call}])


RULES = [
    _rule('nitride:instance:register', ADMIN_OR_SERVICE,
          'Register an instance\'s reference values and binding (Nova).',
          'register_instance'),
    _rule('nitride:instance:remove', ADMIN_OR_SERVICE,
          'Forget an instance (Nova, when it is deleted).',
          'remove_instance'),
    _rule('nitride:instance:status', ADMIN_OR_OWNER,
          'Show the newest attestation of an instance.', 'get_status'),
    _rule('nitride:instance:reference', ADMIN_OR_OWNER,
          'Show the reference values an instance is registered with.',
          'get_reference'),
    _rule('nitride:evidence:verify', ADMIN_OR_SERVICE,
          'Verify evidence bound to no instance.', 'verify'),
    _rule('nitride:release:authorize', ADMIN_OR_SERVICE,
          'Decide a key release for a ticket (the Barbican plugin).',
          'authorize_release'),
    _rule('nitride:policy:get', ADMIN_OR_OWNER,
          'Show an appraisal policy of a project or flavor.', 'get_policy'),
    _rule('nitride:policy:set', 'role:admin',
          'Set an appraisal policy of a project or flavor.', 'set_policy'),
    _rule('nitride:records:export', ADMIN_OR_OWNER,
          'Export signed attestation records and audit events.', 'export'),
    policy.DocumentedRuleDefault(
        'nitride:firmware:list', 'role:admin',
        'Show the catalog of measured firmware.',
        [{'method': 'GET', 'path': '/v1/firmware'}]),
]

_ENFORCER: typing.Optional[policy.Enforcer] = None


class Forbidden(Exception):
    """The caller's roles do not allow the call."""


def list_rules() -> typing.List[policy.RuleDefault]:
    """The default rules, for oslopolicy-sample-generator."""
    return list(RULES)


def get_enforcer() -> policy.Enforcer:
    """The enforcer of cfg.CONF, with the default rules registered."""
    global _ENFORCER
    if _ENFORCER is None:
        _ENFORCER = policy.Enforcer(cfg.CONF)
        _ENFORCER.register_defaults(RULES)
    return _ENFORCER


def authorize(context: context_mod.RequestContext, rule: str,
              project_id: typing.Optional[str] = None,
              enforcer: typing.Optional[policy.Enforcer] = None) -> None:
    """Raise :class:`Forbidden` unless ``context`` may call ``rule``.

    ``project_id`` is the project owning the target; without one, owner
    rules match nobody and only roles can allow the call. ``enforcer``
    defaults to :func:`get_enforcer` (the dashboard brings its own).
    """
    credentials = context.to_policy_values()
    target = {'project_id': project_id or ''}
    if not (enforcer or get_enforcer()).authorize(
            rule, target, credentials, do_raise=False):
        raise Forbidden('%s is not allowed for roles %s'
                        % (rule, ','.join(context.roles) or '(none)'))
