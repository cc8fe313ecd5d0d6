"""Appraisal checks shared by the TEEs' ``validate`` modules.

Each returns a list of :class:`~.result.Finding` (empty when the check
passes). Byte-string comparisons are constant-time.
"""

import hmac
import typing

from buckypaper_os.attestation import policy as policy_mod
from buckypaper_os.attestation import result

Findings = typing.List[result.Finding]
_BAD = result.Tier.CONTRAINDICATED


def equal(name: str, actual_hex: str, expected_hex: typing.Optional[str],
          claim: str) -> Findings:
    """``actual`` must equal ``expected`` when an expectation is set."""
    if expected_hex is None:
        return []
    if hmac.compare_digest(bytes.fromhex(actual_hex),
                           bytes.fromhex(expected_hex)):
        return []
    return [result.Finding(_BAD, claim,
                           '%s does not match the expected value' % name)]


def one_of(name: str, actual_hex: str, allowed: typing.Sequence[str],
           claim: str) -> Findings:
    """``actual`` must be one of ``allowed`` when that list is non-empty."""
    if not allowed:
        return []
    actual = bytes.fromhex(actual_hex)
    matches = [hmac.compare_digest(actual, bytes.fromhex(a))
               for a in allowed]
    if any(matches):
        return []
    return [result.Finding(_BAD, claim,
                           '%s %s is not an allowed value'
                           % (name, actual_hex))]


def debug(is_debug: bool, policy: policy_mod.Policy) -> Findings:
    """Debug guests are refused unless the policy allows them."""
    if is_debug and not policy.allow_debug:
        return [result.Finding(_BAD, 'configuration',
                               'guest has debugging enabled')]
    return []


def min_tcb(reported: typing.Mapping[str, int],
            policy: policy_mod.Policy) -> Findings:
    """Every component named in ``policy.min_tcb`` must be at least that.

    A component the policy names but the evidence lacks fails closed.
    """
    findings = []
    for component, minimum in sorted(policy.min_tcb.items()):
        value = reported.get(component)
        if value is None:
            findings.append(result.Finding(
                _BAD, 'hardware',
                'TCB component %s is not reported' % component))
        elif value < minimum:
            findings.append(result.Finding(
                _BAD, 'hardware', 'TCB component %s is %d, below minimum %d'
                % (component, value, minimum)))
    return findings


def stale(verification: result.Verification,
          policy: policy_mod.Policy) -> Findings:
    """Certificates, CRLs or collateral outside validity are refused."""
    if not policy.check_validity:
        return []
    return [result.Finding(_BAD, 'hardware', reason)
            for reason in verification.stale]
