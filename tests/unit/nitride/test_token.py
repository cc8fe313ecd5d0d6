"""EAR tokens: issue, verify, every refusal, JWKS, hybrid signatures."""

import hashlib
import json

from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric import mldsa
from cryptography.hazmat.primitives.asymmetric import utils
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives import serialization
import jwt
from oslo_config import cfg
import pytest

from buckypaper_os.attestation import result as result_mod
from buckypaper_os import conf as bp_conf
from buckypaper_os.nitride_service import jwk
from buckypaper_os.nitride_service import token
from buckypaper_os.nitride_service import token_keys

NOW = 1_800_000_000
INSTANCE = '6f1c1a43-5f0e-4d8e-9a51-3c2f7d1b8e11'
TEE_KEY = bytes(range(32)) * 37


@pytest.fixture(scope='module')
def ec_key():
    return ec.generate_private_key(ec.SECP384R1())


@pytest.fixture(scope='module')
def pq_key():
    return mldsa.MLDSA65PrivateKey.generate()


def _result():
    return result_mod.AttestationResult(
        tee='sev-snp', verified=True, status='affirming',
        claims={'measurement': 'ab' * 48},
        trustworthiness={'hardware': 2, 'executables': 2})


def _issue(signer, now=NOW, lifetime=300):
    return token.issue(signer, _result(), INSTANCE, 'proj-1', TEE_KEY,
                       lifetime, now=now)


def _b64json(value):
    return jwk.b64url_encode(json.dumps(value).encode())


def test_round_trip_claims(ec_key):
    issued = _issue(token.Signer(ec_key))
    claims = token.verify(issued.token, [ec_key.public_key()], now=NOW + 1)
    assert claims == issued.claims
    assert claims['eat_profile'] == 'tag:github.com,2023:veraison/ear'
    assert (claims['iat'], claims['exp']) == (NOW, NOW + 300)
    assert claims['jti'] == issued.jti
    assert claims['ear.verifier-id']['developer'] == 'buckypaper-os'
    assert claims['ear.verifier-id']['build']
    assert claims['buckypaper.instance'] == INSTANCE
    assert claims['buckypaper.project'] == 'proj-1'
    submod = claims['submods']['sev-snp']
    assert submod['ear.status'] == 'affirming'
    assert submod['ear.trustworthiness-vector'] == {'hardware': 2,
                                                    'executables': 2}
    assert submod['buckypaper.claims'] == {'measurement': 'ab' * 48}
    assert jwk.b64url_decode(submod['buckypaper.tee-pubkey']) == TEE_KEY


def test_es384_only_token_is_compact_with_raw_signature(ec_key):
    signed = _issue(token.Signer(ec_key)).token
    protected, _, signature = signed.split('.')
    header = json.loads(jwk.b64url_decode(protected))
    assert header == {'alg': 'ES384', 'kid': jwk.thumbprint(
        ec_key.public_key()), 'typ': 'JWT'}
    assert len(jwk.b64url_decode(signature)) == 96  # r || s, 48 bytes each


def test_es384_signature_verifies_with_plain_cryptography(ec_key):
    """Interoperability: RFC 7518 r || s over the JWS signing input."""
    protected, payload, signature = _issue(token.Signer(ec_key)).token.split(
        '.')
    raw = jwk.b64url_decode(signature)
    der = utils.encode_dss_signature(int.from_bytes(raw[:48], 'big'),
                                     int.from_bytes(raw[48:], 'big'))
    ec_key.public_key().verify(der, ('%s.%s' % (protected, payload)).encode(),
                               ec.ECDSA(hashes.SHA384()))


def test_hybrid_es384_part_verifies_as_plain_jwt(ec_key, pq_key):
    """A relying party that knows only ES384 JWTs still checks the token."""
    document = json.loads(_issue(token.Signer(ec_key, pq_key),
                                 now=None).token)
    first = document['signatures'][0]
    compact = '%s.%s.%s' % (first['protected'], document['payload'],
                            first['signature'])
    claims = jwt.decode(compact, ec_key.public_key(), algorithms=['ES384'])
    assert claims['buckypaper.instance'] == INSTANCE


def test_jti_unique(ec_key):
    signer = token.Signer(ec_key)
    assert _issue(signer).jti != _issue(signer).jti


def test_alg_none_refused(ec_key):
    signed = _issue(token.Signer(ec_key)).token
    payload = signed.split('.')[1]
    forged = '%s.%s.' % (_b64json({'alg': 'none', 'typ': 'JWT'}), payload)
    with pytest.raises(token.TokenError, match="algorithm 'none'"):
        token.verify(forged, [ec_key.public_key()], now=NOW)


def test_unknown_alg_refused(ec_key):
    signed = _issue(token.Signer(ec_key)).token
    _, payload, signature = signed.split('.')
    forged = '%s.%s.%s' % (_b64json({'alg': 'HS256', 'kid': 'x'}), payload,
                           signature)
    with pytest.raises(token.TokenError, match="algorithm 'HS256'"):
        token.verify(forged, [ec_key.public_key()], now=NOW)


def test_long_alg_is_not_echoed(ec_key):
    _, payload, signature = _issue(token.Signer(ec_key)).token.split('.')
    forged = '%s.%s.%s' % (_b64json({'alg': 'A' * 20000}), payload,
                           signature)
    with pytest.raises(token.TokenError) as exc:
        token.verify(forged, [ec_key.public_key()], now=NOW)
    assert 'not accepted' in str(exc.value) and len(str(exc.value)) < 80


@pytest.mark.parametrize('ticket', [
    '{"payload":' + '[' * 20000,
    '%s.e30.e30' % jwk.b64url_encode(b'[' * 20000)])
def test_deeply_nested_json_is_refused(ec_key, ticket):
    with pytest.raises(token.TokenError, match='JSON'):
        token.verify(ticket, [ec_key.public_key()], now=NOW)


def test_unknown_key_refused(ec_key):
    other = ec.generate_private_key(ec.SECP384R1())
    signed = _issue(token.Signer(other)).token
    with pytest.raises(token.TokenError, match='unknown key'):
        token.verify(signed, [ec_key.public_key()], now=NOW)


def test_wrong_key_under_trusted_kid_refused(ec_key):
    """A token signed by another key but naming the trusted kid."""
    other = ec.generate_private_key(ec.SECP384R1())
    header = _b64json({'alg': 'ES384', 'typ': 'JWT',
                       'kid': jwk.thumbprint(ec_key.public_key())})
    _, payload, signature = _issue(token.Signer(other)).token.split('.')
    with pytest.raises(token.TokenError, match='ES384 signature invalid'):
        token.verify('%s.%s.%s' % (header, payload, signature),
                     [ec_key.public_key()], now=NOW)


def test_tampered_payload_refused(ec_key):
    issued = _issue(token.Signer(ec_key))
    protected, _, signature = issued.token.split('.')
    claims = dict(issued.claims, **{'buckypaper.instance': 'someone-else'})
    forged = '%s.%s.%s' % (protected, jwk.b64url_encode(
        token._json_bytes(claims)), signature)
    with pytest.raises(token.TokenError, match='signature invalid'):
        token.verify(forged, [ec_key.public_key()], now=NOW)


def test_expiry_and_leeway(ec_key):
    signed = _issue(token.Signer(ec_key), lifetime=60).token
    keys = [ec_key.public_key()]
    assert token.verify(signed, keys, leeway=10, now=NOW + 69)
    with pytest.raises(token.TokenError, match='token expired'):
        token.verify(signed, keys, leeway=10, now=NOW + 70)
    with pytest.raises(token.TokenError, match='token expired'):
        token.verify(signed, keys, now=NOW + 60)


def test_issued_in_the_future_refused(ec_key):
    signed = _issue(token.Signer(ec_key)).token
    keys = [ec_key.public_key()]
    assert token.verify(signed, keys, leeway=5, now=NOW - 5)
    with pytest.raises(token.TokenError, match='in the future'):
        token.verify(signed, keys, leeway=5, now=NOW - 6)


def _es384(key, header, claims):
    """A compact JWS of ``claims`` validly signed under ``header``."""
    protected = _b64json(dict(header, alg='ES384',
                              kid=jwk.thumbprint(key.public_key())))
    payload = jwk.b64url_encode(token._json_bytes(claims))
    r, s = utils.decode_dss_signature(key.sign(
        ('%s.%s' % (protected, payload)).encode(), ec.ECDSA(hashes.SHA384())))
    return '%s.%s.%s' % (protected, payload, jwk.b64url_encode(
        r.to_bytes(48, 'big') + s.to_bytes(48, 'big')))


@pytest.mark.parametrize('change, reason', [
    ({'eat_profile': 'tag:example.com,2023:other'}, 'eat_profile is not'),
    ({'eat_profile': None}, 'eat_profile is not'),
    ({'iat': str(NOW)}, 'iat is not an integer'),
    ({'exp': float(NOW + 300)}, 'exp is not an integer'),
    ({'exp': True}, 'exp is not an integer'),
    ({'jti': ''}, 'token has no jti'),
    ({'jti': 7}, 'token has no jti'),
    ({'submods': {}}, 'token has no submods'),
    ({'submods': ['sev-snp']}, 'token has no submods'),
])
def test_signed_tokens_with_bad_claims_refused(ec_key, change, reason):
    """A validly signed token with a malformed claim is refused."""
    claims = dict(_issue(token.Signer(ec_key)).claims, **change)
    signed = token.Signer(ec_key).sign(claims)
    with pytest.raises(token.TokenError, match=reason):
        token.verify(signed, [ec_key.public_key()], now=NOW)


def test_critical_header_refused(ec_key):
    claims = _issue(token.Signer(ec_key)).claims
    keys = [ec_key.public_key()]
    assert token.verify(_es384(ec_key, {}, claims), keys, now=NOW)
    with pytest.raises(token.TokenError, match='critical header'):
        token.verify(_es384(ec_key, {'crit': ['exp'], 'exp': 1}, claims),
                     keys, now=NOW)


def test_two_signatures_of_one_algorithm_refused(ec_key):
    protected, payload, signature = _issue(
        token.Signer(ec_key)).token.split('.')
    entry = {'protected': protected, 'signature': signature}
    twice = json.dumps({'payload': payload, 'signatures': [entry, entry]})
    with pytest.raises(token.TokenError, match='two ES384 signatures'):
        token.verify(twice, [ec_key.public_key()], now=NOW)


def test_garbage_refused(ec_key):
    for garbage in ('', 'a.b', 'a.b.c', '{"payload": "x"}', '{', None):
        with pytest.raises(token.TokenError):
            token.verify(garbage, [ec_key.public_key()], now=NOW)


def test_hybrid_token_carries_both_signatures(ec_key, pq_key):
    signed = _issue(token.Signer(ec_key, pq_key)).token
    document = json.loads(signed)
    algs = [json.loads(jwk.b64url_decode(entry['protected']))['alg']
            for entry in document['signatures']]
    assert algs == ['ES384', 'ML-DSA-65']
    keys = [ec_key.public_key(), pq_key.public_key()]
    claims = token.verify(signed, keys, require_mldsa=True, now=NOW)
    assert claims['buckypaper.instance'] == INSTANCE


def test_hybrid_needs_every_present_signature_valid(ec_key, pq_key):
    signed = _issue(token.Signer(ec_key, pq_key)).token
    document = json.loads(signed)
    entry = document['signatures'][1]
    broken = bytearray(jwk.b64url_decode(entry['signature']))
    broken[0] ^= 1
    entry['signature'] = jwk.b64url_encode(bytes(broken))
    keys = [ec_key.public_key(), pq_key.public_key()]
    with pytest.raises(token.TokenError, match='ML-DSA-65 signature invalid'):
        token.verify(json.dumps(document), keys, now=NOW)


def test_require_mldsa_refuses_classic_only(ec_key, pq_key):
    keys = [ec_key.public_key(), pq_key.public_key()]
    compact = _issue(token.Signer(ec_key)).token
    assert token.verify(compact, keys, now=NOW)
    with pytest.raises(token.TokenError, match='ML-DSA-65 signature required'):
        token.verify(compact, keys, require_mldsa=True, now=NOW)
    # Stripping the ML-DSA signature off a hybrid token does not help.
    document = json.loads(_issue(token.Signer(ec_key, pq_key)).token)
    del document['signatures'][1]
    with pytest.raises(token.TokenError, match='ML-DSA-65 signature required'):
        token.verify(json.dumps(document), keys, require_mldsa=True, now=NOW)


def test_mldsa_alone_refused(ec_key, pq_key):
    document = json.loads(_issue(token.Signer(ec_key, pq_key)).token)
    del document['signatures'][0]
    keys = [ec_key.public_key(), pq_key.public_key()]
    with pytest.raises(token.TokenError, match='ES384 signature missing'):
        token.verify(json.dumps(document), keys, now=NOW)


def test_mldsa_wrong_key_refused(ec_key, pq_key):
    other = mldsa.MLDSA65PrivateKey.generate()
    signed = _issue(token.Signer(ec_key, other)).token
    keys = [ec_key.public_key(), pq_key.public_key()]
    with pytest.raises(token.TokenError, match='unknown key'):
        token.verify(signed, keys, now=NOW)


def test_unprotected_header_refused(ec_key, pq_key):
    document = json.loads(_issue(token.Signer(ec_key, pq_key)).token)
    document['signatures'][0]['header'] = {'kid': 'x'}
    with pytest.raises(token.TokenError, match='no unprotected'):
        token.verify(json.dumps(document), [ec_key.public_key()], now=NOW)


def test_signer_refuses_other_curves():
    with pytest.raises(token.TokenError, match='P-384'):
        token.Signer(ec.generate_private_key(ec.SECP256R1()))


def test_kid_is_rfc7638_thumbprint():
    """SHA-256 of the required EC members, sorted, without whitespace."""
    key = ec.generate_private_key(ec.SECP384R1()).public_key()
    members = jwk.to_jwk(key)
    canonical = '{"crv":"P-384","kty":"EC","x":"%s","y":"%s"}' % (
        members['x'], members['y'])
    assert members['kid'] == jwk.b64url_encode(
        hashlib.sha256(canonical.encode()).digest())


def test_jwks_publishes_keys_that_verify(ec_key, pq_key):
    signer = token.Signer(ec_key, pq_key)
    published = json.loads(json.dumps(jwk.to_jwks(signer.public_keys())))
    assert [k['alg'] for k in published['keys']] == ['ES384', 'ML-DSA-65']
    assert [k['kty'] for k in published['keys']] == ['EC', 'AKP']
    for entry in published['keys']:
        assert 'd' not in entry and 'priv' not in entry
    keys = jwk.from_jwks(published)
    signed = _issue(signer).token
    assert token.verify(signed, keys, require_mldsa=True, now=NOW)


def test_jwk_with_wrong_kid_refused(ec_key):
    entry = jwk.to_jwk(ec_key.public_key())
    entry['kid'] = 'not-the-thumbprint'
    with pytest.raises(ValueError, match='thumbprint'):
        jwk.from_jwk(entry)


def _write_pem(path, key):
    path.write_bytes(key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption()))
    return str(path)


@pytest.fixture
def conf():
    conf = cfg.ConfigOpts()
    bp_conf.nitride.register_opts(conf)
    conf([], project='buckypaper-test')
    return conf


def test_keys_from_config_files(conf, tmp_path, ec_key, pq_key):
    retired = ec.generate_private_key(ec.SECP384R1())
    retired_pub = tmp_path / 'retired.pub'
    retired_pub.write_bytes(retired.public_key().public_bytes(
        serialization.Encoding.PEM,
        serialization.PublicFormat.SubjectPublicKeyInfo))
    conf.set_override('token_key_file', _write_pem(tmp_path / 'ec.pem',
                                                   ec_key), 'nitride')
    conf.set_override('token_mldsa_key_file',
                      _write_pem(tmp_path / 'pq.pem', pq_key), 'nitride')
    conf.set_override('token_previous_key_files', [str(retired_pub)],
                      'nitride')
    conf.set_override('token_require_mldsa', True, 'nitride')
    keys = token_keys.TokenKeys(conf)
    kids = [k['kid'] for k in keys.jwks['keys']]
    assert kids == [jwk.thumbprint(k.public_key())
                    for k in (ec_key, pq_key, retired)]
    signed = _issue(keys.signer, now=None).token
    assert keys.verify(signed)['buckypaper.instance'] == INSTANCE
    # A token of the retired key is still accepted, but only as ES384.
    old = _issue(token.Signer(retired), now=None).token
    with pytest.raises(token.TokenError, match='ML-DSA-65 signature required'):
        keys.verify(old)
    conf.set_override('token_require_mldsa', False, 'nitride')
    assert keys.verify(old)


def test_unreadable_key_file_refused(conf, tmp_path):
    bad = tmp_path / 'bad.pem'
    bad.write_text('-----BEGIN PRIVATE KEY-----\nnot a key\n'
                   '-----END PRIVATE KEY-----\n')
    conf.set_override('token_key_file', str(bad), 'nitride')
    with pytest.raises(token.TokenError) as info:
        token_keys.load_signer(conf)
    assert 'not a key' not in str(info.value)
    conf.clear_override('token_key_file', 'nitride')
    with pytest.raises(token.TokenError, match='token_key_file is not set'):
        token_keys.load_signer(conf)
