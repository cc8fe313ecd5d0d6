"""Values of the ``buckypaper:`` flavor extra specs that need no Nova.

:mod:`buckypaper_os.nova_driver.extra_specs` builds Nova's validators and
its combination checks from these; ``openstack confidential flavor
create``, which runs where Nova is not installed, offers and checks the
same values before it calls Nova's API.
"""

import typing

PREFIX = 'buckypaper:'
ATTESTATION = PREFIX + 'attestation'
DISK_KEY = PREFIX + 'disk_key'
DISK_KEY_ON_DELETE = PREFIX + 'disk_key_on_delete'

REQUIRED = 'required'
GENERATE = 'generate'
KEEP = 'keep'

#: Allowed values of the enumerated keys, the default first.
ATTESTATION_VALUES = (REQUIRED, 'disabled')
DISK_KEY_VALUES = (GENERATE,)
DISK_KEY_ON_DELETE_VALUES = ('delete', KEEP)


def disk_key_problem(specs: typing.Mapping[str, str]) -> typing.Optional[
        str]:
    """Why the disk key specs of ``specs`` do not go together, or None."""
    generate = specs.get(DISK_KEY) == GENERATE
    if generate and specs.get(ATTESTATION, REQUIRED) != REQUIRED:
        return ('%s needs %s=%s: the key is released only to the attested '
                'instance.' % (DISK_KEY, ATTESTATION, REQUIRED))
    if DISK_KEY_ON_DELETE in specs and not generate:
        return '%s needs %s=%s.' % (DISK_KEY_ON_DELETE, DISK_KEY, GENERATE)
    return None
