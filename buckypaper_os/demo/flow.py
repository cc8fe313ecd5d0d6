"""The demo's steps: the flow of design.md, then three refusals.

Each step has an expectation (``done`` or ``refused``) and passes only
when what happened matches it. The guest is the simulated TEE behind a
simulated configfs-tsm tree, driven by the enclaivelet's own code.
"""

import base64
import os
import shutil
import typing
import urllib.request
import uuid

from buckypaper_os.barbican_plugin import sealing
from buckypaper_os import binding
from buckypaper_os.demo import barbican as barbican_mod
from buckypaper_os.demo import stack as stack_mod
from buckypaper_os.enclaivelet import agent
from buckypaper_os.enclaivelet import config as enclaivelet_config
from buckypaper_os.enclaivelet import evidence as evidence_mod
from buckypaper_os.nitride_service.api import guest_client
from buckypaper_os.simulated_tee import attester as attester_mod
from buckypaper_os.simulated_tee import tsm as tsm_mod

PROJECT = 'demo-project'
MEASUREMENT = bytes.fromhex('5a' * 48)
TAMPERED = bytes.fromhex('a5' * 48)
IMAGE_SIZE = 32 * 1024 * 1024
DONE, REFUSED = 'done', 'refused'


class Step(typing.NamedTuple):
    name: str
    expected: str
    outcome: str
    detail: str

    @property
    def ok(self) -> bool:
        return self.expected == self.outcome


class Demo:
    """One run; ``say`` prints progress, :attr:`steps` is the record."""

    def __init__(self, root: str, say: typing.Callable[[str], None],
                 transport_url: typing.Optional[str] = None) -> None:
        self.root = root
        self.say = say
        self.stack = stack_mod.Stack(root, transport_url)
        self.steps: typing.List[Step] = []
        self.instance = str(uuid.uuid4())
        self.tenant = barbican_mod.identity(PROJECT, 'alice')
        self.image = os.path.join(root, 'disk.img')
        self.check_only = True

    # Bookkeeping

    def record(self, name: str, expected: str, action: typing.Callable[
            [], str]) -> Step:
        try:
            detail = action()
            outcome = DONE
        except Refusal as exc:
            outcome, detail = REFUSED, str(exc)
        except Exception as exc:
            outcome, detail = 'failed', '%s: %s' % (type(exc).__name__,
                                                    exc)
        step = Step(name, expected, outcome, detail)
        self.steps.append(step)
        self.say('[%s] %s: %s (%s)' % ('ok' if step.ok else 'FAIL', name,
                                       outcome, detail))
        return step

    # The flow

    def run(self) -> bool:
        try:
            if not self.record('start services', DONE, self.start).ok:
                return False
            self.record('register instance', DONE, self.register)
            self.record('store disk key', DONE, self.store)
            self.record('plain read of the key', REFUSED, self.plain_read)
            self.record('first boot: attest, release, format', DONE,
                        lambda: self.boot('formatted'))
            self.record('second boot: attest, release, unlock', DONE,
                        lambda: self.boot('opened'))
            self.record('tampered measurement', REFUSED, self.tampered)
            self.record('replayed nonce', REFUSED, self.replayed)
            self.record('another instance', REFUSED, self.another_instance)
        finally:
            self.stack.stop()
        return all(step.ok for step in self.steps)

    def start(self) -> str:
        self.stack.start()
        return ('Nitride guest API %s, Barbican %s, transport %s'
                % (self.stack.api_url, self.stack.barbican.url,
                   self.stack.transport_url))

    def register(self) -> str:
        self.stack.register(self.instance, PROJECT, binding.SNP,
                            [MEASUREMENT.hex()])
        return 'instance %s, sev-snp, measurement %s...' % (
            self.instance, MEASUREMENT.hex()[:16])

    def store(self) -> str:
        key = os.urandom(64)
        self.secret = self.stack.barbican.store(
            self.tenant, key, {'buckypaper-instance': self.instance,
                               'buckypaper-tee': binding.SNP},
            acl_users=[stack_mod.NITRIDE_USER])
        del key
        return 'secret %s in the Vault, bound to the instance' % self.secret

    def plain_read(self) -> str:
        try:
            self.stack.barbican.payload(self.secret, self.tenant)
        except barbican_mod.HTTPError as exc:
            raise Refusal('Barbican answered %d to the owner' % exc.status)
        return 'the owner read the key in the clear'

    # The guest

    def attester(self, instance: str, measurement: bytes = MEASUREMENT
                 ) -> attester_mod.SimulatedAttester:
        return attester_mod.SimulatedAttester(
            self.stack.pki, measurement=measurement,
            host_data=binding.host_data(instance, PROJECT))

    def pinned_keys(self) -> str:
        """Nitride's JWK Set in a file, as an image would carry it."""
        path = os.path.join(self.root, 'nitride-jwks.json')
        if not os.path.exists(path):
            with urllib.request.urlopen(self.stack.api_url + '/v1/jwks',
                                        timeout=30) as answer:
                jwks = answer.read()
            with open(path, 'wb') as f:
                f.write(jwks)
        return path

    def settings(self, tsm_root: str) -> dict:
        return enclaivelet_config.load(os.devnull, {
            'nitride_keys': self.pinned_keys(),
            'instance_uuid': self.instance,
            'nitride_url': self.stack.api_url,
            'secret': self.secret, 'device': self.image,
            'tsm_root': tsm_root,
            'sev_device': os.path.join(self.root, 'no-sev-guest'),
            'check_only': str(self.check_only), 'retries': '2',
            'backoff': '0.5'})

    def enclaivelet(self, measurement: bytes, name: str) -> str:
        tsm_root = os.path.join(self.root, name)
        guest = self.attester(self.instance, measurement)
        with tsm_mod.SimulatedTsm(tsm_root, guest):
            try:
                return agent.unlock(self.settings(tsm_root),
                                    lambda m: self.say('    enclaivelet: '
                                                       + m))
            except agent.Failure as exc:
                if exc.status and 400 <= exc.status < 500:
                    raise Refusal('%s refused: %s' % (exc.stage, exc))
                raise
            finally:
                shutil.rmtree(tsm_root, ignore_errors=True)

    def boot(self, expected: str) -> str:
        if not os.path.exists(self.image):
            with open(self.image, 'wb') as f:
                f.truncate(IMAGE_SIZE)
        done = self.enclaivelet(MEASUREMENT, 'tsm-boot')
        if done != expected:
            raise RuntimeError('volume %s, expected %s' % (done, expected))
        return 'LUKS2 image %s %s (%s)' % (
            self.image, done, 'key verified with cryptsetup open '
            '--test-passphrase' if self.check_only else 'mapped')

    # Refusals

    def tampered(self) -> str:
        self.enclaivelet(TAMPERED, 'tsm-tampered')
        return 'a guest with another launch measurement got the key'

    def _attest(self, api: guest_client.GuestClient, instance: str
                ) -> typing.Tuple[dict, str, bytes, list, bytes]:
        pair = sealing.TeeKeyPair()
        public = pair.public_bytes()
        challenge = api.challenge(instance)
        tsm_root = os.path.join(self.root, 'tsm-%s' % instance[:8])
        with tsm_mod.SimulatedTsm(tsm_root, self.attester(instance)):
            evidence = evidence_mod.collect(binding.report_data(
                base64.b64decode(challenge['nonce']), public), tsm_root)
        shutil.rmtree(tsm_root, ignore_errors=True)
        answer = api.attest(instance, challenge['nonce'], evidence.report,
                            evidence.certificates, public)
        return answer, challenge['nonce'], evidence.report, \
            evidence.certificates, public

    def replayed(self) -> str:
        api = guest_client.GuestClient(self.stack.api_url)
        _, nonce, report, certs, public = self._attest(api, self.instance)
        try:
            api.attest(self.instance, nonce, report, certs, public)
        except guest_client.GuestApiError as exc:
            raise Refusal('Nitride answered %d: %s' % (exc.status, exc))
        return 'the same evidence and nonce were accepted twice'

    def another_instance(self) -> str:
        other = str(uuid.uuid4())
        self.stack.register(other, PROJECT, binding.SNP,
                            [MEASUREMENT.hex()])
        api = guest_client.GuestClient(self.stack.api_url)
        answer = self._attest(api, other)[0]
        try:
            api.release(self.secret, answer['token'])
        except guest_client.GuestApiError as exc:
            raise Refusal('instance %s... (genuine, affirming) asked for '
                          'the key of %s...: %s'
                          % (other[:8], self.instance[:8], exc))
        return 'another instance got the key'


class Refusal(Exception):
    """The services refused, as a refusal step expects."""
