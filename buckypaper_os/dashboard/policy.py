"""Nitride's oslo.policy rules, checked for the signed-in Horizon user.

The rules and defaults are Nitride's own
(:mod:`buckypaper_os.nitride_service.policy`); operators' overrides come
from the ``[oslo_policy]`` files of ``settings.BUCKYPAPER_CONFIG_FILES``
(default: oslo.config's files of project ``buckypaper``, such as
``/etc/buckypaper/buckypaper.conf`` and ``policy.yaml`` beside it). Hiding
a panel is a courtesy: Nitride enforces the same rules on every call.
"""

import typing

from django.conf import settings
from oslo_config import cfg
from oslo_context import context as context_mod
from oslo_policy import policy as oslo_policy

from buckypaper_os.nitride_service import policy as nitride_policy

_ENFORCER: typing.Optional[oslo_policy.Enforcer] = None


def enforcer() -> oslo_policy.Enforcer:
    """The dashboard's enforcer of Nitride's rules (built once)."""
    global _ENFORCER
    if _ENFORCER is None:
        conf = cfg.ConfigOpts()
        conf([], project='buckypaper', default_config_files=getattr(
            settings, 'BUCKYPAPER_CONFIG_FILES', None))
        _ENFORCER = oslo_policy.Enforcer(conf)
        _ENFORCER.register_defaults(nitride_policy.list_rules())
    return _ENFORCER


def context(request) -> context_mod.RequestContext:
    """The oslo.context of the request's Keystone user."""
    user = request.user
    return context_mod.RequestContext(
        user_id=user.id, project_id=user.project_id,
        roles=[role['name'] for role in user.roles])


def allowed(request, rule: str,
            project_id: typing.Optional[str] = None) -> bool:
    """Whether the request's user may call ``rule`` on ``project_id``."""
    try:
        nitride_policy.authorize(context(request), rule, project_id,
                                 enforcer=enforcer())
    except nitride_policy.Forbidden:
        return False
    return True
