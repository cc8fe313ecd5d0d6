"""``buckypaper-nova-compute``: nova-compute with the buckypaper driver.

Nova loads ``[DEFAULT] compute_driver`` as ``nova.virt.<name>`` only, so
this registers :mod:`buckypaper_os.nova_driver.driver` as the module
``nova.virt.buckypaper`` and then runs ``nova.cmd.compute.main``. Set::

    [DEFAULT]
    compute_driver = buckypaper.BuckypaperLibvirtDriver

and start the service with ``buckypaper-nova-compute --config-file
/etc/nova/nova.conf`` (the same arguments as nova-compute).
"""

import sys

#: The alias under nova.virt, i.e. the prefix of compute_driver.
ALIAS = 'buckypaper'
COMPUTE_DRIVER = ALIAS + '.BuckypaperLibvirtDriver'


def register_alias() -> None:
    """Make ``nova.virt.buckypaper`` import our driver module."""
    import nova.virt

    from buckypaper_os.nova_driver import driver
    sys.modules['nova.virt.' + ALIAS] = driver
    setattr(nova.virt, ALIAS, driver)


def main() -> None:
    # nova.cmd.compute monkey-patches on import: it comes first.
    from nova.cmd import compute
    register_alias()
    compute.main()
