"""AES-256-GCM envelope: round trips, and every mismatch refuses."""

import pytest

from buckypaper_os.barbican_plugin import envelope


def test_round_trip():
    key = envelope.new_key()
    sealed = envelope.seal(key, b'disk key', b'aad')
    assert b'disk key' not in sealed
    assert len(sealed) == len(b'disk key') + envelope.OVERHEAD
    assert envelope.open_(key, sealed, b'aad') == b'disk key'


@pytest.mark.parametrize('change', ['key', 'aad', 'tag', 'nonce', 'version',
                                    'short'])
def test_mismatch_refuses(change):
    key = envelope.new_key()
    sealed = bytearray(envelope.seal(key, b'disk key', b'aad'))
    aad = b'aad'
    if change == 'key':
        key = envelope.new_key()
    elif change == 'aad':
        aad = b'aae'
    elif change == 'tag':
        sealed[-1] ^= 1
    elif change == 'nonce':
        sealed[1] ^= 1
    elif change == 'version':
        sealed[0] = 2
    else:
        sealed = sealed[:envelope.OVERHEAD - 1]
    with pytest.raises(envelope.EnvelopeError):
        envelope.open_(key, bytes(sealed), aad)


def test_dek_bound_to_project_and_kek():
    kek, dek = envelope.new_key(), envelope.new_key()
    wrapped = envelope.wrap_dek(kek, 'k1', 'project-a', dek)
    assert envelope.unwrap_dek(kek, 'k1', 'project-a', wrapped) == dek
    with pytest.raises(envelope.EnvelopeError):
        envelope.unwrap_dek(kek, 'k1', 'project-b', wrapped)
    with pytest.raises(envelope.EnvelopeError):
        envelope.unwrap_dek(kek, 'k2', 'project-a', wrapped)


def test_secret_aad_binds_identity_and_policy():
    base = envelope.secret_aad('id', 'p', {'instance': 'i'})
    assert base == envelope.secret_aad('id', 'p', {'instance': 'i'})
    assert base != envelope.secret_aad('id2', 'p', {'instance': 'i'})
    assert base != envelope.secret_aad('id', 'p2', {'instance': 'i'})
    assert base != envelope.secret_aad('id', 'p', {'instance': 'j'})
    assert base != envelope.secret_aad('id', 'p', None)


def test_wrapped_dek_of_the_wrong_size_refused():
    """A KEK-sealed blob that is not a 32-byte key is no DEK."""
    kek = envelope.new_key()
    wrapped = envelope.seal(kek, bytes(16), envelope.dek_aad('project-a',
                                                             'k1'))
    with pytest.raises(envelope.EnvelopeError, match='wrong size'):
        envelope.unwrap_dek(kek, 'k1', 'project-a', wrapped)
