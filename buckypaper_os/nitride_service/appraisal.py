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
challenge. Nor the keys the operator locks (``[nitride]
locked_policy_keys``): project, flavor and instance documents may not set
them to anything but the policy file's value (or, without one, the safe
default), and are appraised as if they did not name them. Documents
arrive over RPC, which anyone holding broker credentials can call with
any identity, so only the file on the Nitride hosts may, say, admit a
debug guest whose memory the host can read.
"""

import dataclasses
import typing

from buckypaper_os import attestation
from buckypaper_os.attestation import policy as policy_mod

#: Keys of a document that Nitride reads itself.
TOKEN_LIFETIME = 'token_lifetime'
MAX_TOKEN_LIFETIME = 24 * 3600


#: Keys the instance's registration fixes (see above): not lockable.
FIXED = frozenset({'measurements', 'report_data', 'host_data',
                   'mr_config_id'})


class PolicyError(ValueError):
    """An appraisal policy document is not valid; the message says why."""


class LockedKey(PolicyError):
    """A document sets a key the operator locked to another value."""


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
              fixed: typing.Mapping, default_lifetime: int
              ) -> typing.Tuple[attestation.Policy, int]:
    """The policy and token lifetime from ``documents`` then ``fixed``.

    ``documents`` go from least to most specific; ``None`` entries are
    skipped. ``fixed`` holds the instance's own expectations.
    """
    merged: dict = {}
    for document in documents:
        merged.update(document or {})
    merged.update(fixed)
    lifetime = merged.pop(TOKEN_LIFETIME, None)
    if lifetime is None:  # absent, or null in a document: the default
        lifetime = default_lifetime
    try:
        return attestation.Policy.from_dict(merged), lifetime
    except attestation.EvidenceError as exc:
        raise PolicyError(str(exc)) from None


def locks(keys: typing.Iterable[str]) -> typing.FrozenSet[str]:
    """The lockable ``keys``; :class:`PolicyError` names any other."""
    lockable = {field.name for field in dataclasses.fields(
        attestation.Policy)} - FIXED | {TOKEN_LIFETIME}
    unknown = sorted(set(keys) - lockable)
    if unknown:
        raise PolicyError('[nitride] locked_policy_keys: %s cannot be '
                          'locked' % ', '.join(unknown))
    return frozenset(keys)


def refuse_locked(document: typing.Mapping,
                  locked: typing.AbstractSet[str],
                  operator: typing.Optional[typing.Mapping]) -> None:
    """Refuse a document that sets a locked key unlike the operator.

    ``operator`` is the policy file's document. Raises :class:`LockedKey`.
    """
    for key in sorted(locked & set(document)):
        if _value(document, key) != _value(operator or {}, key):
            raise LockedKey('policy key %s is locked by the operator '
                            '([nitride] locked_policy_keys)' % key)


def unlocked(document: typing.Optional[dict],
             locked: typing.AbstractSet[str]) -> typing.Optional[dict]:
    """``document`` without the locked keys (None stays None)."""
    if document is None:
        return None
    return {key: value for key, value in document.items()
            if key not in locked}


def _value(document: typing.Mapping, key: str):
    """What ``document`` makes of ``key`` (the default when absent)."""
    if key == TOKEN_LIFETIME:
        return document.get(key)
    return getattr(attestation.Policy.from_dict(
        {key: document[key]} if key in document else {}), key)
