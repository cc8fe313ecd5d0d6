"""Appraisal policy documents of Nitride, per project and per flavor.

A document is the JSON form of :class:`attestation.Policy` (see the README)
plus Nitride's own ``token_lifetime`` (seconds). The policy an instance's
evidence is appraised with is built in layers, later ones winning::

    safe defaults < [attestation] policy_file < project document
                  < flavor document
                  < the instance's registered policy
                  < what the instance's registration fixes: its
                    measurements, its binding, this challenge's REPORT_DATA

so no document can loosen what binds evidence to one instance and one
challenge. Nor below the operator's file: every document is appraised
as tightened to at least :data:`[attestation] policy_file` over the safe
defaults (see :func:`tighten`). Documents arrive over RPC, which anyone
holding broker credentials, every nova-compute host included, can call as
any identity; only the file on the Nitride hosts may, say, admit a debug
guest whose memory the host can read, or lower a TCB floor.
"""

import dataclasses
import hashlib
import typing

from buckypaper_os import attestation
from buckypaper_os.attestation import policy as policy_mod
from buckypaper_os.barbican_plugin import envelope

#: The EAR submod claim naming the operator policy an attestation was
#: appraised under (see :func:`policy_id`).
POLICY_ID = 'ear.appraisal-policy-id'
#: Keys of a document that Nitride reads itself.
TOKEN_LIFETIME = 'token_lifetime'
MAX_TOKEN_LIFETIME = 24 * 3600


class PolicyError(ValueError):
    """An appraisal policy document is not valid; the message says why."""


def validate(document: typing.Mapping) -> dict:
    """The document, checked; :class:`PolicyError` if it is not valid."""
    if not isinstance(document, dict):
        raise PolicyError('an appraisal policy must be a JSON object')
    rest = dict(document)
    lifetime = rest.pop(TOKEN_LIFETIME, None)
    if lifetime is not None and (
            isinstance(lifetime, bool) or not isinstance(lifetime, int)
            or not 1 <= lifetime <= MAX_TOKEN_LIFETIME):
        raise PolicyError('token_lifetime must be 1..%d seconds'
                          % MAX_TOKEN_LIFETIME)
    try:
        attestation.Policy.from_dict(rest)
    except attestation.EvidenceError as exc:
        raise PolicyError(str(exc)) from None
    return dict(document)


def load(path: typing.Optional[str]) -> typing.Optional[dict]:
    """The validated document in the JSON file ``path`` (None if unset).

    :class:`PolicyError` if it cannot be read or is not valid.
    """
    if not path:
        return None
    try:
        return validate(policy_mod.read_document(path))
    except attestation.EvidenceError as exc:
        raise PolicyError('policy file: %s' % exc) from None
    except PolicyError as exc:
        raise PolicyError('policy file %s: %s' % (path, exc)) from None


def effective(documents: typing.Iterable[typing.Optional[dict]],
              fixed: typing.Mapping, default_lifetime: int,
              floor: typing.Optional[dict] = None
              ) -> typing.Tuple[attestation.Policy, int]:
    """The policy and token lifetime from ``documents`` then ``fixed``.

    ``documents`` go from least to most specific; ``None`` entries are
    skipped. ``fixed`` holds the instance's own expectations. The result
    is tightened to ``floor`` (the operator's document) over the safe
    defaults, and the lifetime is at most the floor's ``token_lifetime``
    or else ``default_lifetime``.
    """
    merged: dict = {}
    for document in documents:
        merged.update(document or {})
    merged.update(fixed)
    lifetime = merged.pop(TOKEN_LIFETIME, None)
    if lifetime is None:  # absent, or null in a document: the default
        lifetime = default_lifetime
    # A longer-lived token outlives a revocation longer: documents may
    # shorten the floor's lifetime (or the default), not lengthen it.
    floor = dict(floor or {})
    lifetime = min(lifetime, floor.pop(TOKEN_LIFETIME, None)
                   or default_lifetime)
    try:
        return tighten(attestation.Policy.from_dict(merged),
                       attestation.Policy.from_dict(floor)), lifetime
    except attestation.EvidenceError as exc:
        raise PolicyError(str(exc)) from None


def tighten(policy: attestation.Policy,
            floor: attestation.Policy) -> attestation.Policy:
    """``policy``, no looser than ``floor`` in any check.

    What may admit a guest (``allow_*``, ``tcb_status_warn``) keeps only
    what both admit; what refuses (``check_validity``, ``require_*``,
    ``min_tcb``, ``snp_policy_set``/``_clear``, ``snp_min_abi``) keeps
    what either requires; ``vmpl``, ``mr_owner`` and the ``rtmrs`` the
    floor sets are the floor's. The registration's own expectations
    (measurements, report_data, host_data, mr_config_id) stay.
    """
    min_tcb = dict(floor.min_tcb)
    for name, svn in policy.min_tcb.items():
        min_tcb[name] = max(svn, min_tcb.get(name, 0))
    abis = [abi for abi in (policy.snp_min_abi, floor.snp_min_abi) if abi]
    return dataclasses.replace(
        policy,
        allow_debug=policy.allow_debug and floor.allow_debug,
        allow_migration_agent=(policy.allow_migration_agent
                               and floor.allow_migration_agent),
        check_validity=policy.check_validity or floor.check_validity,
        require_sept_ve_disable=(policy.require_sept_ve_disable
                                 or floor.require_sept_ve_disable),
        require_collateral=(policy.require_collateral
                            or floor.require_collateral),
        require_crl=policy.require_crl or floor.require_crl,
        min_tcb=min_tcb,
        snp_policy_set=policy.snp_policy_set | floor.snp_policy_set,
        snp_policy_clear=policy.snp_policy_clear | floor.snp_policy_clear,
        snp_min_abi=max(abis, key=_abi_order) if abis else None,
        tcb_status_warn=tuple(status for status in policy.tcb_status_warn
                              if status in floor.tcb_status_warn),
        vmpl=floor.vmpl if floor.vmpl is not None else policy.vmpl,
        mr_owner=floor.mr_owner or policy.mr_owner,
        rtmrs=dict(policy.rtmrs, **floor.rtmrs))


def _abi_order(abi: str) -> typing.Tuple[int, ...]:
    return tuple(int(part) for part in abi.split('.'))


def policy_id(document: typing.Optional[dict],
              allowed: typing.Optional[typing.AbstractSet[str]]) -> str:
    """The id of the operator's appraisal inputs.

    They are the policy file's document and the allowed measurements.
    Tokens carry it (:data:`POLICY_ID`), so that a worker releases only
    on attestations appraised under its own inputs: not by a guest API
    started with other files, nor before the operator changed them.
    """
    digest = hashlib.sha256(envelope.canonical({
        'policy': document or {},
        'allowed_measurements': sorted(allowed) if allowed else None}))
    return 'urn:buckypaper:appraisal-policy:sha256:' + digest.hexdigest()
