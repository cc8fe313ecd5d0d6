"""What a guest checks before it uses a released key.

A sealed blob authenticates nobody: HPKE's base mode lets anyone who knows
a TEE's public key seal a key to it, and the host controls the guest's
network and metadata, so it can answer at the guest API's address. A key
of the host's choosing would format a blank volume the host can read. So
the guest API signs, with its token key, a receipt over each blob it
relays::

    {"typ": "buckypaper-release-receipt", "instance": ..., "secret": ...,
     "ticket": <jti of the attestation token>,
     "sealed_sha256": <hex of the blob's SHA-256>}

A guest that pins Nitride's token keys (its JWK Set, baked into the image)
checks the attestation token and the receipt with :func:`check` before it
opens the blob. Times are not checked: the guest's clock is the host's.
"""

import hashlib
import hmac
import typing

from buckypaper_os.nitride_service import jwk
from buckypaper_os.nitride_service import token

TYPE = 'buckypaper-release-receipt'
#: EAR statuses under which Nitride may release a key (the guest imports
#: nothing of the verifier).
RELEASABLE = ('affirming', 'warning')


def issue(signer: token.Signer, instance_uuid: str, secret: str,
          ticket_jti: str, sealed: bytes) -> str:
    """A signed receipt for ``sealed``, relayed for ``ticket_jti``."""
    return signer.sign({'typ': TYPE, 'instance': instance_uuid,
                        'secret': secret, 'ticket': ticket_jti,
                        'sealed_sha256': hashlib.sha256(sealed).hexdigest()})


def check(keys: typing.Sequence[jwk.PublicKey], attestation_token: str,
          receipt: str, instance_uuid: str, tee_public_key: bytes,
          secret: str, sealed: bytes) -> None:
    """Raise :class:`token.TokenError` unless Nitride vouches for ``sealed``.

    The token must be Nitride's, for this instance and this TEE key, and
    releasable; the receipt Nitride's, for this token, secret and blob.
    """
    claims = token.signed_payload(attestation_token, keys)
    try:
        ours = (claims[token.INSTANCE] == instance_uuid
                and hmac.compare_digest(token.tee_public_key(claims),
                                        tee_public_key)
                and token.submod(claims)[1]['ear.status'] in RELEASABLE)
        jti = claims['jti']
    except (AttributeError, KeyError, TypeError, ValueError):
        raise token.TokenError('not an attestation token') from None
    if not ours:
        raise token.TokenError('the attestation token is not for this '
                               'instance and key, or not releasable')
    signed = token.signed_payload(receipt, keys)
    expected = {'typ': TYPE, 'instance': instance_uuid, 'secret': secret,
                'ticket': jti,
                'sealed_sha256': hashlib.sha256(sealed).hexdigest()}
    if signed.keys() != expected.keys() or not all(
            hmac.compare_digest(str(signed[k]).encode(), v.encode())
            for k, v in expected.items()):
        raise token.TokenError('the release receipt is not for this '
                               'token, secret and key')
