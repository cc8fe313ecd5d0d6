"""Arbitrary tokens and JWKs: only the documented errors, never a pass.

:func:`token.verify` raises :class:`token.TokenError` for anything that is
not a token signed by a trusted key; :func:`jwk.from_jwk` and
:func:`jwk.from_jwks` raise ``ValueError`` for anything that is not a
JWK (Set) they published.
"""

import json

from cryptography.hazmat.primitives.asymmetric import ec
from hypothesis import given
from hypothesis import strategies as st
import pytest

from buckypaper_os.nitride_service import jwk
from buckypaper_os.nitride_service import token
from tests import fuzzing

KEY = ec.generate_private_key(ec.SECP384R1())
PUBLIC = KEY.public_key()
KID = jwk.thumbprint(PUBLIC)
#: A header that names the trusted key, for mutations to start from.
HEADER = {'alg': 'ES384', 'kid': KID, 'typ': 'JWT'}
HEADER_VALUES = st.one_of(fuzzing.JSON, st.sampled_from(
    ['ES384', 'ML-DSA-65', 'none', 'HS256', KID]))


def _part(value) -> str:
    return jwk.b64url_encode(json.dumps(value).encode())


def _refused(text) -> None:
    with pytest.raises(token.TokenError):
        token.verify(text, [PUBLIC], leeway=0)


@fuzzing.SETTINGS
@given(st.one_of(st.text(max_size=2048), fuzzing.JSON.map(json.dumps)))
def test_arbitrary_token_text(text):
    _refused(text)


@fuzzing.SETTINGS
@given(st.dictionaries(st.sampled_from(['alg', 'kid', 'crit', 'typ', 'x']),
                       HEADER_VALUES, max_size=4),
       fuzzing.JSON, st.text(max_size=200))
def test_arbitrary_compact_jws(header, payload, signature):
    _refused('.'.join([_part(dict(HEADER, **header)), _part(payload),
                       signature]))


@fuzzing.SETTINGS
@given(fuzzing.JSON, st.lists(st.one_of(fuzzing.JSON, st.fixed_dictionaries(
    {'protected': st.one_of(fuzzing.JSON, st.dictionaries(
        st.sampled_from(['alg', 'kid', 'crit']), HEADER_VALUES).map(
            lambda h: _part(dict(HEADER, **h)))),
     'signature': fuzzing.JSON})), max_size=3))
def test_arbitrary_json_serialization(payload, signatures):
    _refused(json.dumps({'payload': payload, 'signatures': signatures}))


@fuzzing.SETTINGS
@given(fuzzing.JSON)
def test_arbitrary_claims_signed_by_the_trusted_key(claims):
    """Nitride's own signature over claims it would never issue."""
    signed = token.Signer(KEY).sign(claims if isinstance(claims, dict)
                                    else {'claims': claims})
    _refused(signed)


JWK_MEMBERS = st.dictionaries(
    st.sampled_from(['kty', 'crv', 'x', 'y', 'alg', 'pub', 'kid']),
    st.one_of(fuzzing.JSON, st.sampled_from(
        ['EC', 'P-384', 'AKP', 'ML-DSA-65', KID]),
        st.binary(max_size=64).map(jwk.b64url_encode)), max_size=7)


@fuzzing.SETTINGS
@given(st.one_of(fuzzing.JSON, JWK_MEMBERS))
def test_arbitrary_jwk(document):
    with pytest.raises(ValueError):
        jwk.from_jwk(document)


@fuzzing.SETTINGS
@given(st.one_of(fuzzing.JSON, st.dictionaries(
    st.just('keys'), st.one_of(fuzzing.JSON, st.lists(JWK_MEMBERS)))))
def test_arbitrary_jwks(document):
    try:
        keys = jwk.from_jwks(document)
    except ValueError:
        return
    assert keys == []  # only an empty set parses


def test_published_jwk_round_trips():
    assert jwk.from_jwks(jwk.to_jwks([PUBLIC]))[0] == PUBLIC


@pytest.mark.parametrize('header', [{'alg': ['ES384']}, {'kid': [KID]},
                                    {'kid': {'k': 1}}])
def test_unhashable_alg_or_kid_is_a_token_error(header):
    """Regression: a list or object there raised TypeError."""
    _refused('.'.join([_part(dict(HEADER, **header)), _part({}), 'AA']))


@pytest.mark.parametrize('document', [None, [], 'EC', {'kty': 'EC',
                                                       'crv': 'P-384'}])
def test_jwk_that_is_not_an_object_or_incomplete(document):
    """Regression: AttributeError or KeyError instead of ValueError."""
    with pytest.raises(ValueError):
        jwk.from_jwk(document)
    with pytest.raises(ValueError):
        jwk.from_jwks({'keys': document if document != [] else 5})
