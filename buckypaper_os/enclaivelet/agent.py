"""One unlock: challenge, evidence, attest, release, open the volume.

A failure that may pass (Nitride or, through its relay, Barbican
unreachable or overloaded; or a release refused because the key is not
bound yet) restarts the whole exchange with a fresh nonce after an
exponential backoff; any other refusal ends it at once.
"""

import base64
import os
import time
import typing

from buckypaper_os.barbican_plugin import sealing
from buckypaper_os import binding
from buckypaper_os.enclaivelet import evidence as evidence_mod
from buckypaper_os.enclaivelet import luks
from buckypaper_os.nitride_service.api import guest_client
from buckypaper_os.nitride_service import receipt
from buckypaper_os.nitride_service import token

#: Guest API answers that may pass with time (429, relay and proxy errors).
TRANSIENT = (0, 429, 500, 502, 503, 504)
#: Release refusals that pass once the disk key is bound: Heat's
#: OS::Buckypaper::DiskKeyBinding binds it only after the server exists.
NOT_YET_BOUND = (403, 404)


class Failure(Exception):
    """Why the volume was not unlocked; ``stage`` names the step."""

    def __init__(self, stage: str, message: str,
                 status: typing.Optional[int] = None,
                 retry_after: typing.Optional[int] = None) -> None:
        self.stage = stage
        self.status = status
        #: Seconds Nitride asked to wait (its 429s), if it said.
        self.retry_after = retry_after
        super().__init__(message)


def wipe(buffer: bytearray) -> None:
    """Overwrite a key buffer in place."""
    for index in range(len(buffer)):
        buffer[index] = 0


def _problem(stage: str, exc: guest_client.GuestApiError) -> Failure:
    message = str(exc)
    reasons = '; '.join(str(r) for r in exc.reasons
                        if str(r) not in message)
    if reasons:
        message += ' (%s)' % reasons
    return Failure(stage, message, exc.status, exc.retry_after)


def attest_and_release(settings: dict, say: typing.Callable[[str], None]
                       ) -> bytearray:
    """The disk key, released to this attested guest (caller wipes it)."""
    client = guest_client.GuestClient(settings['nitride_url'],
                                      settings['timeout'])
    # Nitride and the Vault name the secret in lower case (HPKE's info).
    instance, secret = settings['instance_uuid'], settings['secret'].lower()
    pair = sealing.TeeKeyPair()
    public_key = pair.public_bytes()
    stage = 'challenge'
    try:
        challenge = client.challenge(instance)
        nonce = base64.b64decode(challenge['nonce'])
        say('challenge: nonce for instance %s' % instance)
        stage = 'evidence'
        try:
            evidence = evidence_mod.collect(
                binding.report_data(nonce, public_key),
                settings['tsm_root'], settings['sev_device'])
        except evidence_mod.EvidenceError as exc:
            raise Failure('evidence', str(exc)) from None
        say('evidence: %s report from %s, %d certificate(s)'
            % (evidence.tee, evidence.source, len(evidence.certificates)))
        stage = 'attest'
        answer = client.attest(instance, challenge['nonce'],
                               evidence.report, evidence.certificates,
                               public_key)
        if answer.get('status') not in receipt.RELEASABLE:
            raise Failure('attest', 'attestation not releasable: %s'
                          % answer.get('status'), 403)
        say('attest: %s' % answer['status'])
        stage = 'release'
        sealed, signed = client.release_with_receipt(secret, answer['token'])
    except guest_client.GuestApiError as exc:
        raise _problem(stage, exc) from None
    _vouched(settings, say, answer['token'], signed, public_key, sealed)
    try:
        key = bytearray(pair.open(sealed, instance, secret))
    except sealing.SealingError as exc:
        raise Failure('release', 'released key does not open: %s' % exc
                      ) from None
    say('release: disk key sealed to our ephemeral key, %d bytes opened'
        % len(key))
    return key


def _vouched(settings: dict, say: typing.Callable[[str], None],
             ticket: str, signed: typing.Optional[str], public_key: bytes,
             sealed: bytes) -> None:
    """Check Nitride's receipt for ``sealed`` with the pinned keys."""
    keys = settings.get('nitride_keys')
    if not keys:
        if not settings.get('allow_unpinned'):
            raise Failure('release', 'no nitride_keys pinned: the key\'s '
                          'origin cannot be checked')
        say('release: WARNING no nitride_keys pinned (allow_unpinned): '
            'whoever answers at nitride_url could choose this key')
        return
    try:
        receipt.check(keys, ticket, signed or '', settings['instance_uuid'],
                      public_key, settings['secret'].lower(), sealed)
    except token.TokenError as exc:
        raise Failure('release', 'Nitride does not vouch for the released '
                      'key: %s' % exc) from None
    say('release: receipt signed by a pinned Nitride key')


def wait_for_device(settings: dict, say: typing.Callable[[str], None],
                    sleep: typing.Callable[[float], None] = time.sleep
                    ) -> None:
    """Wait up to ``device_wait`` seconds for the volume to be attached.

    Before attesting: a key released for a volume that is not there yet
    (Cinder attaches it after the server boots) would be wasted.
    """
    device, waited = settings['device'], 0.0
    while not os.path.exists(device):
        if waited >= settings['device_wait']:
            raise Failure('unlock', 'no volume at %s after %.0f s'
                          % (device, waited))
        if not waited:
            say('unlock: waiting for %s to be attached' % device)
        sleep(1.0)
        waited += 1.0


def unlock(settings: dict, say: typing.Callable[[str], None]) -> str:
    """Release the key and open (or first format) the volume."""
    wait_for_device(settings, say)
    key = with_retries(settings, say)
    try:
        try:
            done = luks.unlock(settings['device'], key, settings['mapping'],
                               settings['cipher'], settings['check_only'],
                               settings['format'])
        except (luks.LuksError, OSError) as exc:
            raise Failure('unlock-wrong-key'
                          if getattr(exc, 'wrong_key', False)
                          else 'unlock', str(exc)) from None
    finally:
        wipe(key)
    say('unlock: %s %s%s' % (settings['device'], done, ' (key checked '
                             'with --test-passphrase, no mapping)'
                             if settings['check_only'] else
                             ' as /dev/mapper/%s' % settings['mapping']))
    return done


def _may_pass(exc: Failure) -> bool:
    return exc.status in TRANSIENT or (exc.stage == 'release'
                                       and exc.status in NOT_YET_BOUND)


def with_retries(settings: dict, say: typing.Callable[[str], None],
                 sleep: typing.Callable[[float], None] = time.sleep
                 ) -> bytearray:
    """:func:`attest_and_release`, again after transient failures."""
    delay = settings['backoff']
    for attempt in range(settings['retries'] + 1):
        try:
            return attest_and_release(settings, say)
        except Failure as exc:
            if not _may_pass(exc) or attempt == settings['retries']:
                raise
            # Nitride's Retry-After, but no longer than max_backoff: the
            # host may answer in its place.
            wait = max(delay, min(exc.retry_after or 0,
                                  settings['max_backoff']))
            say('%s: %s; retrying in %.1f s' % (exc.stage, exc, wait))
            sleep(wait)
            delay = min(delay * 2, settings['max_backoff'])
    raise AssertionError('unreachable')
