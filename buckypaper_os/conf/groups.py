"""Option groups registered so that two ConfigOpts share no state."""

from oslo_config import cfg


def register(conf: cfg.ConfigOpts, group: cfg.OptGroup) -> None:
    """Register a group like ``group`` on ``conf``, with its own options.

    ``ConfigOpts.register_group`` keeps a shallow copy of the object it is
    given, so every ConfigOpts that registers one module-level group shares
    that group's table of options, and with it their overrides and
    defaults: an override set on Barbican's configuration, or on a test's,
    would show in the global CONF. A new group object per ConfigOpts keeps
    them apart.
    """
    conf.register_group(cfg.OptGroup(
        group.name, title=group.title, help=group.help,
        dynamic_group_owner=group.dynamic_group_owner,
        driver_option=group.driver_option))
