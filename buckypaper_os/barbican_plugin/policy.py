"""A secret's release policy, from Barbican user metadata of the secret.

The tenant sets the policy before the payload, on the secret's metadata
(``PUT /v1/secrets/{id}/metadata``), then stores the payload with
``PUT /v1/secrets/{id}``; the Vault copies the policy into its own row at
that moment, authenticated with the ciphertext, so later metadata changes
do not move the secret. Keys:

* ``buckypaper-instance``: the instance UUID the secret is bound to;
* ``buckypaper-project``: or the project (any attested instance of it);
* ``buckypaper-tee``: ``sev-snp`` or ``tdx`` (optional);
* ``buckypaper-min-tcb``: JSON object of minimum TCB components (optional).

A secret with none of these keys is unbound: an ordinary secret.
"""

import json
import typing
import uuid

from oslo_utils import uuidutils

PREFIX = 'buckypaper-'
TEES = ('sev-snp', 'tdx')


class PolicyError(ValueError):
    """Metadata that is not a valid release policy."""


def from_metadata(metadata: typing.Mapping[str, str],
                  project_id: str) -> typing.Optional[dict]:
    """The release policy in ``metadata``, or None for an unbound secret."""
    ours = {k[len(PREFIX):]: v for k, v in metadata.items()
            if k.startswith(PREFIX)}
    if not ours:
        return None
    unknown = set(ours) - {'instance', 'project', 'tee', 'min-tcb'}
    if unknown:
        raise PolicyError('unknown release policy keys: %s' % ', '.join(
            PREFIX + k for k in sorted(unknown)))
    policy = {}
    instance = ours.get('instance')
    if instance is not None:
        if not uuidutils.is_uuid_like(instance):
            raise PolicyError('buckypaper-instance must be a UUID')
        # Its canonical form, the one tokens name ({...}, URNs and
        # upper case would never match and so never release).
        policy['instance'] = str(uuid.UUID(instance))
    if 'project' in ours:
        if ours['project'] != project_id:
            raise PolicyError('buckypaper-project must be the secret\'s '
                              'own project')
        policy['project'] = project_id
    if not policy:
        raise PolicyError('a release policy needs buckypaper-instance or '
                          'buckypaper-project')
    if 'tee' in ours:
        if ours['tee'] not in TEES:
            raise PolicyError('buckypaper-tee must be one of %s'
                              % ', '.join(TEES))
        policy['tee'] = ours['tee']
    if 'min-tcb' in ours:
        policy['min_tcb'] = _min_tcb(ours['min-tcb'])
    return policy


def _min_tcb(text: str) -> dict:
    try:
        value = json.loads(text)
    except (ValueError, RecursionError):  # RecursionError: deep nesting
        value = None
    if not isinstance(value, dict) or not all(
            isinstance(k, str) and type(v) is int and 0 <= v < 2 ** 16
            for k, v in value.items()):
        raise PolicyError('buckypaper-min-tcb must be a JSON object of '
                          'component names to small integers')
    return value
