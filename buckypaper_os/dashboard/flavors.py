"""Which flavors launch confidential guests, read from their extra specs.

The keys are the Nova driver's (``doc/nova-driver.md``); its
``extra_specs`` module imports Nova, which Horizon does not have, so the
two names it needs are repeated here.
"""

import typing

from buckypaper_os import binding

MODEL_KEY = 'hw:mem_encryption_model'
#: hw:mem_encryption_model values of confidential guests, and their TEE.
MODEL_TEE = {'amd-sev-snp': binding.SNP, 'intel-tdx': binding.TDX}
PREFIX = 'buckypaper:'


def hint(extra_specs: typing.Mapping[str, str]) -> dict:
    """The launch hint of a flavor: its TEE (None: not confidential).

    Also whether the guest must attest, its firmware and whether a disk
    key is generated, as the ``buckypaper:`` keys say (driver defaults
    otherwise).
    """
    tee = MODEL_TEE.get(str(extra_specs.get(MODEL_KEY, '')).lower())
    if tee is None:
        return {'tee': None, 'attestation': None, 'firmware': None,
                'disk_key': False}
    return {'tee': tee,
            'attestation': extra_specs.get(PREFIX + 'attestation',
                                           'required'),
            'firmware': extra_specs.get(PREFIX + 'firmware'),
            'disk_key': extra_specs.get(PREFIX + 'disk_key') == 'generate'}


def row(flavor) -> dict:
    """A flavor's table row: its sizes and its :func:`hint`."""
    data = {'id': flavor.id, 'name': flavor.name, 'vcpus': flavor.vcpus,
            'ram': flavor.ram}
    data.update(hint(getattr(flavor, 'extra_specs', None) or {}))
    return data
