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


class TokenKeys:
    """The configured token keys, read once: signer, accepted keys, JWKS."""

    def __init__(self, conf: cfg.ConfigOpts) -> None:
        self._options = conf.nitride
        self.signer = load_signer(conf)
        #: Current and retired public keys whose tokens are accepted.
        self.public_keys = self.signer.public_keys() + [
            _load(jwk.load_public_key, path)
            for path in conf.nitride.token_previous_key_files]
        #: The JWK Set relying parties fetch to verify tokens offline.
        self.jwks = jwk.to_jwks(self.public_keys)

    def verify(self, signed: str, now: typing.Optional[float] = None
               ) -> dict:
        """:func:`token.verify` with these keys, leeway and mode."""
        return token.verify(signed, self.public_keys,
                            require_mldsa=self._options.token_require_mldsa,
                            leeway=self._options.token_leeway, now=now)
