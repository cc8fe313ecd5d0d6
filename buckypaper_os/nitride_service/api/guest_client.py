"""A client of Nitride's guest API, as a guest (or a test of one) uses it.

Plain HTTP(S) through the standard library: a guest image needs nothing
more. Errors come back as :class:`GuestApiError` with the RFC 7807 problem.
"""

import base64
import json
import typing
import urllib.error
import urllib.request


class GuestApiError(Exception):
    """A problem answer (4xx/5xx) or no answer from the guest API.

    ``retry_after`` is the answer's ``Retry-After`` in whole seconds (a
    429's), or None.
    """

    def __init__(self, status: int, problem: dict,
                 retry_after: typing.Optional[int] = None) -> None:
        self.status = status
        self.problem = problem
        self.retry_after = retry_after
        self.reasons = list(problem.get('reasons') or [])
        super().__init__('%s %s: %s' % (status, problem.get('title', ''),
                                        problem.get('detail', '')))


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode('ascii')


#: The largest answer read (a token with ML-DSA, a sealed key, a receipt
#: are a few KiB); the host may answer in Nitride's place.
MAX_ANSWER = 1024 * 1024


def _bounded(answer) -> bytes:
    """The body of ``answer``; ValueError beyond :data:`MAX_ANSWER`."""
    body = answer.read(MAX_ANSWER + 1)
    if len(body) > MAX_ANSWER:
        raise ValueError('answer larger than %d bytes' % MAX_ANSWER)
    return body


def _seconds(value: typing.Optional[str]) -> typing.Optional[int]:
    """Whole seconds of a ``Retry-After`` (its HTTP-date form: None)."""
    if value is None or not value.strip().isdigit() or len(value) > 9:
        return None
    return int(value)


class GuestClient:
    """Talks to ``base_url`` (e.g. ``https://nitride.example:9797``)."""

    def __init__(self, base_url: str, timeout: float = 30) -> None:
        self.base_url = base_url.rstrip('/')
        self.timeout = timeout

    def challenge(self, instance_uuid: str) -> dict:
        """A fresh nonce: ``{"nonce": b64, "expires_in": s, "tee": ...}``."""
        return self._post('/v1/challenge', {'instance': instance_uuid})

    def attest(self, instance_uuid: str, nonce: str, evidence: bytes,
               certificates: typing.Sequence[bytes], tee_public_key: bytes,
               collateral: typing.Optional[typing.Mapping[str, bytes]] = None
               ) -> dict:
        """Send evidence for a challenge; the token answer."""
        body = {'instance': instance_uuid, 'nonce': nonce,
                'evidence': _b64(evidence),
                'certificates': [_b64(c) for c in certificates],
                'tee_public_key': _b64(tee_public_key)}
        if collateral:
            body['collateral'] = {name: _b64(data)
                                  for name, data in collateral.items()}
        return self._post('/v1/attest', body)

    def release(self, secret_id: str, ticket: str) -> bytes:
        """The secret sealed to the attested key (open it in the guest)."""
        return self.release_with_receipt(secret_id, ticket)[0]

    def release_with_receipt(self, secret_id: str,
                             ticket: str
                             ) -> typing.Tuple[bytes, typing.Optional[str]]:
        """The sealed secret and Nitride's receipt for it (see receipt)."""
        answer = self._post('/v1/release', {'secret': secret_id,
                                            'ticket': ticket})
        return (base64.b64decode(answer['sealed'], validate=True),
                answer.get('receipt'))

    def _post(self, path: str, body: dict) -> dict:
        request = urllib.request.Request(
            self.base_url + path, data=json.dumps(body).encode('utf-8'),
            headers={'Content-Type': 'application/json'}, method='POST')
        try:
            with urllib.request.urlopen(request,
                                        timeout=self.timeout) as answer:
                return json.loads(_bounded(answer))
        except urllib.error.HTTPError as exc:
            try:
                problem = json.loads(_bounded(exc))
            except ValueError:
                problem = {'title': exc.reason}
            raise GuestApiError(exc.code, problem,
                                _seconds(exc.headers.get('Retry-After'))
                                ) from None
        except (urllib.error.URLError, OSError) as exc:
            raise GuestApiError(0, {'title': 'unreachable',
                                    'detail': str(exc)}) from None
        except ValueError as exc:  # not JSON, or too large
            raise GuestApiError(502, {'title': 'malformed answer',
                                      'detail': str(exc)}) from None
