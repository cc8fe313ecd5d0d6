"""The guest's HTTP client against answers a host could make up."""

import http.server

import pytest

from buckypaper_os.nitride_service.api import guest_client
from tests import sockets


class Answers(http.server.BaseHTTPRequestHandler):
    body = b'{}'
    status = 200
    headers_out = {}

    def do_POST(self):
        self.rfile.read(int(self.headers['Content-Length']))
        self.send_response(type(self).status)
        for name, value in type(self).headers_out.items():
            self.send_header(name, value)
        self.send_header('Content-Length', str(len(type(self).body)))
        self.end_headers()
        self.wfile.write(type(self).body)

    def log_message(self, *args):
        pass


@pytest.fixture
def client():
    Answers.headers_out = {}
    with sockets.serving(Answers) as url:
        yield guest_client.GuestClient(url, timeout=10)


@pytest.mark.parametrize('status', [200, 403])
def test_an_oversized_answer_is_not_read(client, status):
    Answers.status = status
    Answers.body = b'"' + b'x' * guest_client.MAX_ANSWER + b'"'
    with pytest.raises(guest_client.GuestApiError) as exc:
        client.challenge('6f1c1a43-5f0e-4d8e-9a51-3c2f7d1b8e11')
    assert exc.value.status == (502 if status == 200 else 403)


def test_a_malformed_answer_is_an_error(client):
    Answers.status, Answers.body = 200, b'not json'
    with pytest.raises(guest_client.GuestApiError) as exc:
        client.challenge('6f1c1a43-5f0e-4d8e-9a51-3c2f7d1b8e11')
    assert exc.value.status == 502
    assert exc.value.problem['title'] == 'malformed answer'


@pytest.mark.parametrize('value, seconds', [
    ('2', 2), (' 30 ', 30), ('Fri, 27 Nov 2026 22:00:00 GMT', None),
    ('-1', None), ('1' * 12, None)])
def test_retry_after_in_whole_seconds_only(client, value, seconds):
    Answers.status, Answers.body = 429, b'{"title": "Too Many Requests"}'
    Answers.headers_out = {'Retry-After': value}
    with pytest.raises(guest_client.GuestApiError) as exc:
        client.challenge('6f1c1a43-5f0e-4d8e-9a51-3c2f7d1b8e11')
    assert (exc.value.status, exc.value.retry_after) == (429, seconds)
