"""The guest's check of Nitride's attestation token and release receipt."""

from cryptography.hazmat.primitives.asymmetric import ec
import pytest

from buckypaper_os.attestation import result as result_mod
from buckypaper_os.nitride_service import receipt
from buckypaper_os.nitride_service import token

INSTANCE = '6f1c1a43-5f0e-4d8e-9a51-3c2f7d1b8e11'
SECRET = '0d5b6c8e-2a44-4f0e-9d53-1d7b8a3c5e10'
TEE_KEY = b'\x01' + bytes(range(64))
SEALED = b'\x01\x01' + b'blob' * 40


@pytest.fixture(scope='module')
def signer():
    return token.Signer(ec.generate_private_key(ec.SECP384R1()))


def _token(signer, status='affirming', instance=INSTANCE, key=TEE_KEY):
    result = result_mod.AttestationResult(
        tee='sev-snp', verified=True, status=status, claims={})
    return token.issue(signer, result, instance, 'project', key, 300)


def _check(signer, issued, signed, **changes):
    args = dict(instance_uuid=INSTANCE, tee_public_key=TEE_KEY,
                secret=SECRET, sealed=SEALED)
    args.update(changes)
    receipt.check(signer.public_keys(), issued.token, signed, **args)


def test_vouches_for_the_relayed_blob(signer):
    issued = _token(signer)
    _check(signer, issued, receipt.issue(signer, INSTANCE, SECRET,
                                         issued.jti, SEALED))


@pytest.mark.parametrize('changes, message', [
    ({'sealed': SEALED + b'x'}, 'receipt is not for'),
    ({'secret': 'c0ffee00-2a44-4f0e-9d53-1d7b8a3c5e10'},
     'receipt is not for'),
    ({'instance_uuid': 'c0ffee00-5f0e-4d8e-9a51-3c2f7d1b8e11'},
     'not for this instance and key'),
    ({'tee_public_key': TEE_KEY[:-1] + b'\0'},
     'not for this instance and key'),
])
def test_anything_else_is_refused(signer, changes, message):
    issued = _token(signer)
    signed = receipt.issue(signer, INSTANCE, SECRET, issued.jti, SEALED)
    with pytest.raises(token.TokenError, match=message):
        _check(signer, issued, signed, **changes)


def test_receipt_of_another_ticket(signer):
    issued, other = _token(signer), _token(signer)
    signed = receipt.issue(signer, INSTANCE, SECRET, other.jti, SEALED)
    with pytest.raises(token.TokenError, match='receipt is not for'):
        _check(signer, issued, signed)


def test_contraindicated_token(signer):
    issued = _token(signer, status='contraindicated')
    signed = receipt.issue(signer, INSTANCE, SECRET, issued.jti, SEALED)
    with pytest.raises(token.TokenError, match='not releasable'):
        _check(signer, issued, signed)


def test_signed_by_another_key(signer):
    """A host answering at Nitride's address cannot sign either."""
    rogue = token.Signer(ec.generate_private_key(ec.SECP384R1()))
    issued = _token(rogue)
    signed = receipt.issue(rogue, INSTANCE, SECRET, issued.jti, SEALED)
    with pytest.raises(token.TokenError, match='unknown key'):
        _check(signer, issued, signed)
    genuine = _token(signer)
    with pytest.raises(token.TokenError, match='unknown key'):
        _check(signer, genuine, receipt.issue(rogue, INSTANCE, SECRET,
                                              genuine.jti, SEALED))
    with pytest.raises(token.TokenError):
        _check(signer, genuine, '')
