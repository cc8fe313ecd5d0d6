"""SEV-SNP ID block and ID authentication information (SNP firmware ABI).

With an ID block, SNP_LAUNCH_FINISH fails unless the launch digest equals
the block's LD and the guest policy equals its POLICY, so the AMD secure
processor itself refuses any other launch. The block is signed with the
operator's ECDSA P-384 ID key; the report then carries the key's digest.

Layouts (little-endian)::

    ID_BLOCK (96 bytes)   LD[48] FAMILY_ID[16] IMAGE_ID[16] VERSION u32 (1)
                          GUEST_SVN u32 POLICY u64
    ID_AUTH (4096 bytes)  0x000 ID_KEY_ALGO u32 (1: ECDSA P-384 SHA-384)
                          0x004 AUTH_KEY_ALGO u32 (0: no author key)
                          0x040 ID_BLOCK_SIG[512]: R[72] S[72] (LE)
                          0x240 ID_KEY[1028]: CURVE u32 (2: P-384)
                                              QX[72] QY[72] (LE)
"""

import hashlib
import struct

from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric import utils as ec_utils
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives import serialization

ID_BLOCK_SIZE = 96
ID_AUTH_SIZE = 4096
ALGO_ECDSA_P384_SHA384 = 1
CURVE_P384 = 2
FAMILY_ID = b'buckypaper-os'.ljust(16, b'\0')

_ID_BLOCK = struct.Struct('<48s16s16sIIQ')


def image_id(name: str) -> bytes:
    """The 16-byte IMAGE_ID of a firmware catalog entry."""
    return hashlib.sha256(name.encode('utf-8')).digest()[:16]


def build_id_block(measurement: bytes, policy: int, image: bytes,
                   guest_svn: int = 0) -> bytes:
    if len(measurement) != 48 or len(image) != 16:
        raise ValueError('LD must be 48 bytes and IMAGE_ID 16 bytes')
    return _ID_BLOCK.pack(measurement, FAMILY_ID, image, 1, guest_svn,
                          policy)


def _le(value: int) -> bytes:
    return value.to_bytes(72, 'little')


def public_key_bytes(key: ec.EllipticCurvePublicKey) -> bytes:
    """The 1028-byte SNP public key structure of a P-384 key."""
    numbers = key.public_numbers()
    return (struct.pack('<I', CURVE_P384) + _le(numbers.x)
            + _le(numbers.y)).ljust(0x404, b'\0')


def id_key_digest(key: ec.EllipticCurvePublicKey) -> bytes:
    """SHA-384 of the ID key structure: the report's ID_KEY_DIGEST."""
    return hashlib.sha384(public_key_bytes(key)).digest()


def build_id_auth(id_block: bytes,
                  key: ec.EllipticCurvePrivateKey) -> bytes:
    """ID_AUTH_INFO with the ID block signed by ``key`` (no author key)."""
    if not isinstance(key, ec.EllipticCurvePrivateKey) or \
            not isinstance(key.curve, ec.SECP384R1):
        raise ValueError('the SNP ID key must be an ECDSA P-384 key')
    r, s = ec_utils.decode_dss_signature(
        key.sign(id_block, ec.ECDSA(hashes.SHA384())))
    auth = bytearray(ID_AUTH_SIZE)
    struct.pack_into('<II', auth, 0, ALGO_ECDSA_P384_SHA384, 0)
    auth[0x40:0x40 + 144] = _le(r) + _le(s)
    auth[0x240:0x240 + 0x404] = public_key_bytes(key.public_key())
    return bytes(auth)


def verify_id_auth(id_block: bytes, id_auth: bytes) -> bool:
    """Whether ``id_auth`` holds a valid signature of ``id_block``."""
    from cryptography.exceptions import InvalidSignature
    algo, curve = struct.unpack_from('<I', id_auth, 0)[0], \
        struct.unpack_from('<I', id_auth, 0x240)[0]
    if algo != ALGO_ECDSA_P384_SHA384 or curve != CURVE_P384:
        return False
    x = int.from_bytes(id_auth[0x244:0x244 + 72], 'little')
    y = int.from_bytes(id_auth[0x28c:0x28c + 72], 'little')
    r = int.from_bytes(id_auth[0x40:0x40 + 72], 'little')
    s = int.from_bytes(id_auth[0x88:0x88 + 72], 'little')
    try:
        public = ec.EllipticCurvePublicNumbers(
            x, y, ec.SECP384R1()).public_key()
        public.verify(ec_utils.encode_dss_signature(r, s), id_block,
                      ec.ECDSA(hashes.SHA384()))
    except (InvalidSignature, ValueError):
        return False
    return True


def load_key(path: str) -> ec.EllipticCurvePrivateKey:
    with open(path, 'rb') as f:
        key = serialization.load_pem_private_key(f.read(), password=None)
    if not isinstance(key, ec.EllipticCurvePrivateKey) or \
            not isinstance(key.curve, ec.SECP384R1):
        raise ValueError('%s is not an ECDSA P-384 private key' % path)
    return key
