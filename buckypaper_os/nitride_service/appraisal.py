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
challenge.
"""

import typing

from buckypaper_os import attestation
from buckypaper_os.attestation import policy as policy_mod

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
