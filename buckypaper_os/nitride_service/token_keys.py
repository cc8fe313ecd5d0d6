"""Token keys from the ``[nitride]`` options: signer, accepted keys, JWKS."""

import typing

from oslo_config import cfg

from buckypaper_os.nitride_service import jwk
from buckypaper_os.nitride_service import token


def _load(loader: typing.Callable, path: str):
    try:
        return loader(path)
    except (OSError, ValueError, TypeError) as exc:
        # The exception class only: a parser message could quote the file.
        raise token.TokenError('cannot load token key from %s (%s)'
                               % (path, type(exc).__name__)) from None


def load_signer(conf: cfg.ConfigOpts) -> token.Signer:
    """The signer of ``[nitride] token_key_file`` (+ ML-DSA key if set)."""
    group = conf.nitride
    if not group.token_key_file:
        raise token.TokenError('[nitride] token_key_file is not set')
    mldsa_key = None
    if group.token_mldsa_key_file:
        mldsa_key = _load(jwk.load_private_key, group.token_mldsa_key_file)
    return token.Signer(_load(jwk.load_private_key, group.token_key_file),
                        mldsa_key)


def public_keys(conf: cfg.ConfigOpts) -> list:
    """Current and retired public keys whose tokens are accepted."""
    keys = load_signer(conf).public_keys()
    keys += [_load(jwk.load_public_key, path)
             for path in conf.nitride.token_previous_key_files]
    return keys


def jwks(conf: cfg.ConfigOpts) -> dict:
    """The JWK Set that relying parties fetch to verify tokens offline."""
    return jwk.to_jwks(public_keys(conf))


def verify(conf: cfg.ConfigOpts, signed: str,
           now: typing.Optional[float] = None) -> dict:
    """:func:`token.verify` with the configured keys, leeway and mode."""
    return token.verify(signed, public_keys(conf),
                        require_mldsa=conf.nitride.token_require_mldsa,
                        leeway=conf.nitride.token_leeway, now=now)
