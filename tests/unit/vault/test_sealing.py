"""HPKE sealing to the TEE key and the guest-side open."""

import pytest

from buckypaper_os.barbican_plugin import sealing

INSTANCE = '6f1c2a8e-2a44-4f0e-9d53-1d7b8a3c5e10'
SECRET = 'c0ffee00-2a44-4f0e-9d53-1d7b8a3c5e10'


@pytest.fixture(params=[sealing.MLKEM768_X25519, sealing.P384])
def pair(request):
    return sealing.TeeKeyPair(request.param)


def test_wire_forms():
    assert len(sealing.TeeKeyPair().public_bytes()) == 1217
    assert len(sealing.TeeKeyPair(sealing.P384).public_bytes()) == 98


def test_round_trip(pair):
    blob = sealing.seal(pair.public_bytes(), b'k' * 64, INSTANCE, SECRET)
    assert blob[:2] == bytes([sealing.VERSION, pair.suite_id])
    assert b'k' * 16 not in blob
    assert pair.open(blob, INSTANCE, SECRET) == b'k' * 64
    assert sealing.is_sealed(blob)
    assert not sealing.is_sealed(b'k' * 64)
    assert not sealing.is_sealed(blob[:2 + sealing.TAG_SIZE])


def test_wrong_key(pair):
    blob = sealing.seal(pair.public_bytes(), b'key', INSTANCE, SECRET)
    with pytest.raises(sealing.SealingError):
        sealing.TeeKeyPair(pair.suite_id).open(blob, INSTANCE, SECRET)


@pytest.mark.parametrize('instance,secret', [(SECRET, SECRET),
                                             (INSTANCE, INSTANCE)])
def test_wrong_binding(pair, instance, secret):
    blob = sealing.seal(pair.public_bytes(), b'key', INSTANCE, SECRET)
    with pytest.raises(sealing.SealingError):
        pair.open(blob, instance, secret)


@pytest.mark.parametrize('position', [0, 1, 2, 40, -17, -1])
def test_tampered(pair, position):
    blob = bytearray(sealing.seal(pair.public_bytes(), b'key', INSTANCE,
                                  SECRET))
    blob[position] ^= 1
    with pytest.raises(sealing.SealingError):
        pair.open(bytes(blob), INSTANCE, SECRET)


@pytest.mark.parametrize('wire', [b'', b'\x03' + b'\x00' * 32,
                                  b'\x01' + b'\x00' * 100,
                                  b'\x02' + b'\x04' + b'\x00' * 96,
                                  b'\x02' + b'\x03' * 97])
def test_malformed_public_keys(wire):
    with pytest.raises(sealing.SealingError):
        sealing.seal(wire, b'key', INSTANCE, SECRET)


def test_loaded_key_reused_and_bad_key_refused_each_time(pair):
    wire = pair.public_bytes()
    assert sealing.load_public_key(wire) is sealing.load_public_key(wire)
    blob = sealing.seal_to(sealing.load_public_key(wire), b'key', INSTANCE,
                           SECRET)
    assert pair.open(blob, INSTANCE, SECRET) == b'key'
    for _ in range(2):
        with pytest.raises(sealing.SealingError):
            sealing.load_public_key(wire[:-1])


def test_info_known_answer():
    """The HPKE info the enclaivelet must build too, byte for byte."""
    assert sealing.info(sealing.MLKEM768_X25519, 'inst', 'sec') == (
        b'buckypaper-vault-release-v1\x00\x01\x01'
        b'{"instance":"inst","secret":"sec"}')
    assert sealing.info(sealing.P384, 'inst', 'sec')[28:30] == bytes(
        [1, sealing.P384])
