"""RFC 7807 problem details: every error answer of the guest API.

A problem names its HTTP status, a generic title and a detail written by
Nitride; ``reasons`` lists the verifier's reasons for a refusal. Problems
never carry tracebacks or bytes of the request.
"""

import http
import json
import typing

import webob

MEDIA_TYPE = 'application/problem+json'
TYPE_PREFIX = 'urn:buckypaper:problem:'


def slug(status: int) -> str:
    """The problem type slug of an HTTP status, e.g. ``not-found``."""
    return http.HTTPStatus(status).phrase.lower().replace(' ', '-')


class Problem(Exception):
    """An error answer: raise it anywhere in a request's handling."""

    def __init__(self, status: int, detail: str,
                 reasons: typing.Sequence[str] = (),
                 headers: typing.Optional[typing.Mapping[str, str]] = None
                 ) -> None:
        super().__init__(detail)
        self.status = status
        self.detail = detail
        self.reasons = list(reasons)
        self.headers = dict(headers or {})

    def response(self) -> webob.Response:
        """The ``application/problem+json`` response of this problem."""
        document = {'type': TYPE_PREFIX + slug(self.status),
                    'title': http.HTTPStatus(self.status).phrase,
                    'status': self.status,
                    'detail': self.detail,
                    'reasons': self.reasons}
        response = webob.Response(status=self.status,
                                  content_type=MEDIA_TYPE, charset=None,
                                  body=json.dumps(document).encode())
        response.headers.update(self.headers)
        return response
