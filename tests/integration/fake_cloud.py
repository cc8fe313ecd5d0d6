"""A test Keystone and a recording Nova API on loopback, for osc.

Keystone answers version discovery and password authentication with a
scoped v3 token whose project and roles are those of the user (see
``USERS``); its catalog names this server's Nova and Barbican. Nova
records each request (method, path, JSON body) and answers flavor calls
as Nova 2.86 does; Barbican records PUTs of secret metadata, ACLs and
payloads.
"""

import datetime
import http.server
import json
import threading
import typing
import uuid

#: user name -> (project ID, roles)
Users = typing.Dict[str, typing.Tuple[str, typing.List[str]]]


class _Handler(http.server.BaseHTTPRequestHandler):
    cloud: 'FakeCloud'

    def log_message(self, *args) -> None:
        pass

    def _send(self, status: int, body=None, headers=None) -> None:
        data = b'' if body is None else json.dumps(body).encode()
        self.send_response(status)
        self.send_header('Content-Type', 'application/json')
        self.send_header('Content-Length', str(len(data)))
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(data)

    def _body(self):
        length = int(self.headers.get('Content-Length') or 0)
        return json.loads(self.rfile.read(length)) if length else None

    def do_GET(self) -> None:
        if self.path.rstrip('/') == '/identity/v3':
            self._send(200, {'version': {
                'id': 'v3.14', 'status': 'stable',
                'updated': '2020-04-07T00:00:00Z',
                'links': [{'rel': 'self',
                           'href': self.cloud.url + '/identity/v3/'}],
                'media-types': []}})
        else:
            self._nova('GET', None)

    def do_POST(self) -> None:
        body = self._body()
        if self.path == '/identity/v3/auth/tokens':
            self._token(body)
        else:
            self._nova('POST', body)

    def do_DELETE(self) -> None:
        self._nova('DELETE', None)

    def do_PUT(self) -> None:
        length = int(self.headers.get('Content-Length') or 0)
        data = self.rfile.read(length)
        kind = self.headers.get('Content-Type', '')
        body = json.loads(data) if kind.startswith('application/json') \
            else data
        self.cloud.barbican_requests.append(('PUT', self.path, kind, body))
        if self.path.startswith('/key-manager/v1/secrets/'):
            self._send(204 if kind.startswith('application/octet') else 201,
                       None if kind.startswith('application/octet')
                       else body)
        else:
            self._send(404, {'code': 404})

    def _token(self, body) -> None:
        user = body['auth']['identity']['password']['user']
        name = user['name']
        if name not in self.cloud.users or user['password'] != 'secret':
            self._send(401, {'error': {'code': 401, 'message': 'no'}})
            return
        project, roles = self.cloud.users[name]
        expires = (datetime.datetime.utcnow() + datetime.timedelta(hours=1)
                   ).strftime('%Y-%m-%dT%H:%M:%S.000000Z')
        domain = {'id': 'default', 'name': 'Default'}
        token = {'token': {
            'methods': ['password'], 'expires_at': expires,
            'issued_at': expires, 'audit_ids': ['a'],
            'user': {'id': 'id-' + name, 'name': name, 'domain': domain},
            'project': {'id': project, 'name': project, 'domain': domain},
            'roles': [{'id': 'r-' + r, 'name': r} for r in roles],
            'catalog': [_service('compute', self.cloud.url
                                 + '/compute/v2.1'),
                        _service('key-manager', self.cloud.url
                                 + '/key-manager')]}}
        self._send(201, token, {'X-Subject-Token': uuid.uuid4().hex})

    def _nova(self, method: str, body) -> None:
        self.cloud.nova_requests.append((method, self.path, body))
        path = self.path.split('?')[0].rstrip('/')
        parts = path.split('/')
        if method == 'POST' and path == '/compute/v2.1/flavors':
            flavor = dict(body['flavor'])
            if flavor.get('id') in (None, 'auto'):
                flavor['id'] = str(uuid.uuid4())
            flavor.update({'links': [], 'OS-FLV-EXT-DATA:ephemeral': 0,
                           'OS-FLV-DISABLED:disabled': False,
                           'os-flavor-access:is_public': flavor.pop(
                               'os-flavor-access:is_public', True),
                           'swap': '', 'rxtx_factor': 1.0,
                           'description': flavor.get('description'),
                           'extra_specs': {}})
            self.cloud.flavors[flavor['id']] = flavor
            self._send(200, {'flavor': flavor})
        elif (method == 'POST' and len(parts) == 6
              and parts[5] == 'os-extra_specs'):
            bad = sorted(k for k in body['extra_specs']
                         if k in self.cloud.refuse_keys)
            if bad:
                self._send(400, {'badRequest': {
                    'code': 400, 'message': 'Validation failed; %s' % bad}})
                return
            self.cloud.flavors[parts[4]]['extra_specs'].update(
                body['extra_specs'])
            self._send(200, {'extra_specs': body['extra_specs']})
        elif method == 'DELETE' and len(parts) == 5:
            self.cloud.flavors.pop(parts[4], None)
            self._send(202)
        else:
            self._send(404, {'itemNotFound': {'code': 404,
                                              'message': self.path}})


def _service(kind: str, url: str) -> dict:
    return {'type': kind, 'name': kind, 'id': kind,
            'endpoints': [{'id': kind, 'interface': 'public',
                           'region': 'RegionOne', 'region_id': 'RegionOne',
                           'url': url}]}


class FakeCloud:
    """Keystone and Nova on 127.0.0.1; ``stop()`` when done."""

    def __init__(self, users: Users) -> None:
        self.users = users
        self.nova_requests: list = []
        self.barbican_requests: list = []
        self.flavors: dict = {}
        self.refuse_keys: typing.Set[str] = set()
        handler = type('Handler', (_Handler,), {'cloud': self})
        self._server = http.server.ThreadingHTTPServer(('127.0.0.1', 0),
                                                       handler)
        self.url = 'http://127.0.0.1:%d' % self._server.server_port
        threading.Thread(target=self._server.serve_forever,
                         daemon=True).start()

    def auth_args(self, user: str) -> typing.List[str]:
        """osc options that log ``user`` in to this Keystone."""
        return ['--os-auth-type', 'password',
                '--os-auth-url', self.url + '/identity/v3',
                '--os-identity-api-version', '3',
                '--os-username', user, '--os-password', 'secret',
                '--os-user-domain-id', 'default',
                '--os-project-id', self.users[user][0],
                '--os-region-name', 'RegionOne',
                '--os-interface', 'public']

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()
