"""The Vault's Barbican secret store: entry point class :class:`VaultStore`.

Barbican records ``buckypaper_os.barbican_plugin.store.VaultStore`` as the
store of each secret: this path must never change.

Every secret is envelope-encrypted in the Vault's own tables. A secret
with a release policy (see :mod:`policy`) is never returned plainly, to
any caller: only with an attestation ticket in ``trans_wrapped_session_key``
that Nitride accepts, and then HPKE-sealed to the attested TEE's key.
Every doubt (no answer, broker down, any error) refuses. Nitride's yes
arrives over a message bus that authenticates no one, so the Vault takes
only a yes that Nitride signed over the Vault's own fresh challenge (see
:mod:`~buckypaper_os.nitride_service.decision`), and seals to the key that
the signature covers.
"""

import base64
import json
import re
import threading
import typing
import uuid

from barbican.common import config as barbican_config
from barbican.common import exception as barbican_exc
from barbican.plugin.interface import secret_store as ss
from barbican.plugin.util import mime_types
from oslo_config import cfg
from oslo_context import context as context_mod
from oslo_log import log as logging
import sqlalchemy as sa

from buckypaper_os.barbican_plugin import db
from buckypaper_os.barbican_plugin import envelope
from buckypaper_os.barbican_plugin import keyring as keyring_mod
from buckypaper_os.barbican_plugin import migration
from buckypaper_os.barbican_plugin import policy as policy_mod
from buckypaper_os.barbican_plugin import redaction
from buckypaper_os.barbican_plugin import sealing
from buckypaper_os.conf import nitride as nitride_conf
from buckypaper_os.conf import vault as vault_conf
from buckypaper_os.nitride_service import decision

LOG = logging.getLogger(__name__)

#: The "transport key" the plugin publishes: not a key, only a marker
#: that tickets are accepted in trans_wrapped_session_key.
TRANSPORT_KEY = base64.b64encode(b'buckypaper-vault-ticket-v1').decode()
SECRET_PATH = re.compile(r'/secrets/([0-9a-fA-F-]{36})/?$')
MAX_TICKET = 64 * 1024
#: Refusal reasons passed on to the client: how many, how long each.
MAX_REASONS, MAX_REASON = 8, 200
#: A secret and the wrapped DEK of its project (None if it is missing).
_SECRET_WITH_DEK = sa.select(
    db.SECRETS, db.PROJECT_KEYS.c.kek_id,
    db.PROJECT_KEYS.c.wrapped_dek).outerjoin(
    db.PROJECT_KEYS,
    db.PROJECT_KEYS.c.project_id == db.SECRETS.c.project_id)


class VaultError(barbican_exc.BarbicanHTTPException):
    """An answer to the client whose reason names no key material."""

    def __init__(self, reason: str) -> None:
        self.message = reason
        self.client_message = reason
        super().__init__(reason, reason)


class Refused(VaultError):
    """A refusal (403)."""

    status_code = 403


class BadPolicy(VaultError):
    """A release policy that cannot be stored (400)."""

    status_code = 400


class NoDecision(VaultError):
    """Nitride could not be asked in time (503): nothing released, retry."""

    status_code = 503


class NotConfigured(VaultError):
    """The Vault cannot check tickets (500): nothing released."""

    status_code = 500


def register_opts(conf: cfg.ConfigOpts) -> None:
    """The Vault's and Nitride's groups, and what its RPC client reads."""
    vault_conf.register_opts(conf)
    nitride_conf.register_opts(conf)
    # oslo.messaging registers these on the global CONF only.
    from oslo_messaging._metrics import client as metrics
    from oslo_messaging._tracing import client as tracing
    conf.register_opts(metrics.oslo_messaging_metrics,
                       group='oslo_messaging_metrics')
    conf.register_opts(tracing.oslo_messaging_tracing,
                       group='oslo_messaging_tracing')


def load_conf() -> cfg.ConfigOpts:
    """Barbican's configuration, with the Vault's and Nitride's groups."""
    conf = barbican_config.new_config()
    register_opts(conf)
    barbican_config.parse_args(conf)
    return conf


def _request_secret_id() -> typing.Optional[str]:
    """The secret id of the current ``PUT /v1/secrets/{id}``, if any."""
    try:
        import pecan
        request = pecan.request
        path = request.path_info
        method = request.method
    except Exception:  # no pecan request (tests, tools)
        return None
    match = SECRET_PATH.search(path or '')
    return match.group(1).lower() if match and method == 'PUT' else None


def _reasons(answer) -> typing.List[str]:
    """The reasons of a refusal, as much of them as fits a client message.

    Refusals are not signed: anyone on the message bus may write them.
    """
    reasons = answer.get('reasons') if isinstance(answer, dict) else None
    if not isinstance(reasons, list):
        return []
    return [r[:MAX_REASON] for r in reasons[:MAX_REASONS]
            if isinstance(r, str)]


def _user_metadata(secret_id: str) -> typing.Dict[str, str]:
    from barbican.model import repositories
    return repositories.get_secret_user_meta_repository(
    ).get_metadata_for_secret(secret_id) or {}


class VaultStore(ss.SecretStoreBase):
    """Envelope-encrypting store with attestation-gated, sealed release."""

    def __init__(self, conf: typing.Optional[cfg.ConfigOpts] = None,
                 nitride=None) -> None:
        self.conf = conf or load_conf()
        redaction.install()
        self._keyring: typing.Optional[keyring_mod.Keyring] = None
        self._nitride = nitride
        self._decision_keys: typing.Optional[list] = None
        self._lock = threading.Lock()

    # Configuration, built on first use so Barbican starts without them.

    @property
    def keyring(self) -> keyring_mod.Keyring:
        with self._lock:
            if self._keyring is None:
                options = self.conf.buckypaper_vault
                if not options.connection:
                    raise ss.StorePluginNotAvailableOrMisconfigured(
                        self.get_plugin_name())
                engine = db.get_engine(options.connection)
                try:
                    # Barbican's own option: its tables and ours alike.
                    migration.ensure(engine, getattr(
                        self.conf, 'db_auto_create', False))
                except migration.SchemaError as exc:
                    LOG.error('%s', exc)
                    raise ss.StorePluginNotAvailableOrMisconfigured(
                        self.get_plugin_name()) from None
                self._keyring = keyring_mod.Keyring(options.kek_files,
                                                    engine)
            return self._keyring

    def nitride(self):
        """The Nitride RPC client (built once, on the first release)."""
        with self._lock:
            if self._nitride is None:
                from buckypaper_os.nitride_service import rpc
                from buckypaper_os.nitride_service import rpcapi
                options = self.conf.buckypaper_vault
                self.conf.set_override('topic', options.nitride_topic,
                                       'nitride')
                rpc.quiet_idle_polling()  # replies wake the listener anyway
                transport = rpc.get_transport(self.conf,
                                              url=options.transport_url)
                self._nitride = rpcapi.NitrideAPI(
                    self.conf, transport, timeout=options.rpc_timeout)
            return self._nitride

    @property
    def decision_keys(self) -> list:
        """Nitride's decision keys, from ``nitride_decision_key_files``."""
        with self._lock:
            if self._decision_keys is None:
                paths = self.conf.buckypaper_vault.nitride_decision_key_files
                try:
                    keys = [decision.load_public_key(p) for p in paths]
                except decision.DecisionError as exc:
                    LOG.error('Vault: %s', exc)
                    raise NotConfigured('the Vault cannot check Nitride\'s '
                                        'decisions; nothing released') \
                        from None
                if not keys:
                    LOG.error('[buckypaper_vault] nitride_decision_key_files'
                              ' is not set: every release is refused')
                    raise NotConfigured('the Vault cannot check Nitride\'s '
                                        'decisions; nothing released')
                self._decision_keys = keys
            return self._decision_keys

    # SecretStoreBase

    def get_plugin_name(self) -> str:
        return self.conf.buckypaper_vault.plugin_name

    def generate_supports(self, key_spec) -> bool:
        return False

    def generate_symmetric_key(self, key_spec):
        raise NotImplementedError('the Vault stores keys; it does not '
                                  'generate them')

    def generate_asymmetric_key(self, key_spec):
        raise NotImplementedError('the Vault stores keys; it does not '
                                  'generate them')

    def store_secret_supports(self, key_spec) -> bool:
        return True

    def get_transport_key(self) -> str:
        return TRANSPORT_KEY

    def is_transport_key_current(self, transport_key) -> bool:
        return transport_key == TRANSPORT_KEY

    def store_secret(self, secret_dto: ss.SecretDTO) -> dict:
        """Encrypt and keep the secret; Barbican records its vault_id."""
        if secret_dto.transport_key:
            raise BadPolicy('the Vault does not accept transport-wrapped '
                            'payloads')
        context = context_mod.get_current()
        project_id = getattr(context, 'project_id', None)
        if not project_id:
            raise Refused('no project in the request context')
        secret_id = _request_secret_id()
        try:
            policy = policy_mod.from_metadata(
                _user_metadata(secret_id) if secret_id else {}, project_id)
        except policy_mod.PolicyError as exc:
            raise BadPolicy(str(exc)) from None
        if policy is not None and (secret_dto.content_type
                                   not in mime_types.BINARY):
            # Released sealed, as bytes: Barbican would refuse to read a
            # sealed blob back as text.
            raise BadPolicy('a secret bound to a TEE must be binary '
                            '(application/octet-stream), not %s'
                            % secret_dto.content_type)
        vault_id = secret_id or str(uuid.uuid4())
        plaintext = base64.b64decode(secret_dto.secret)
        return {'vault_id': self.put(vault_id, project_id, policy,
                                     plaintext)}

    def put(self, vault_id: str, project_id: str,
            policy: typing.Optional[dict], plaintext: bytes) -> str:
        """Store ``plaintext`` encrypted under the project's DEK."""
        dek = self.keyring.project_dek(project_id)
        ciphertext = envelope.seal(
            dek, plaintext, envelope.secret_aad(vault_id, project_id, policy))
        with self.keyring.engine.begin() as conn:
            conn.execute(db.SECRETS.insert().values(
                id=vault_id, project_id=project_id,
                policy=None if policy is None else json.dumps(
                    policy, sort_keys=True),
                ciphertext=ciphertext, created_at=db.now()))
        LOG.info('Vault stored secret %s of project %s (%s)', vault_id,
                 project_id, 'bound' if policy else 'unbound')
        return vault_id

    def get_secret(self, secret_type, secret_metadata: dict
                   ) -> ss.SecretDTO:
        """The plain secret if unbound; sealed to the TEE if released."""
        vault_id = secret_metadata.get('vault_id')
        ticket = secret_metadata.get('trans_wrapped_session_key')
        payload = self.release(vault_id, ticket)
        return ss.SecretDTO(secret_type,
                            base64.b64encode(payload), ss.KeySpec(),
                            secret_metadata.get('content_type'))

    def release(self, vault_id: typing.Optional[str],
                ticket: typing.Optional[str]) -> bytes:
        """What a payload read returns: plain, sealed, or a refusal."""
        row = self._row(vault_id)
        policy = None if row.policy is None else json.loads(row.policy)
        if policy is None:
            if ticket is not None:
                raise Refused('secret is not bound to a TEE; read it '
                              'without a ticket')
            return self._open(row, policy)
        if ticket is None:
            raise Refused('secret is released only sealed to an attested '
                          'TEE, with a ticket')
        instance, tee_key = self._authorize(ticket, row, policy)
        try:
            public_key = sealing.load_public_key(
                base64.b64decode(tee_key, validate=True))
        except (ValueError, sealing.SealingError):
            raise Refused('release not authorized: the attested key is '
                          'not a supported HPKE public key') from None
        sealed = sealing.seal_to(public_key, self._open(row, policy),
                                 instance, row.id)
        # Debug only: Nitride audits the decision, Barbican logs the read.
        LOG.debug('Vault released secret %s of project %s sealed to '
                  'instance %s', row.id, row.project_id, instance)
        return sealed

    def _authorize(self, ticket: str, row, policy: dict
                   ) -> typing.Tuple[str, str]:
        """The instance and (base64) TEE key of Nitride's signed yes.

        Otherwise :class:`Refused`, or :class:`NoDecision`: every doubt is
        a no, and only an explicit yes that Nitride signed over this call
        releases. A yes without a valid signature is a forged or broken
        answer; it is refused loudly.
        """
        if not (isinstance(ticket, str) and 0 < len(ticket) <= MAX_TICKET
                and ticket.isascii()):  # a JWS is ASCII
            raise Refused('malformed ticket')
        keys = self.decision_keys
        challenge = decision.new_challenge()
        try:
            answer = self.nitride().authorize_release(
                # Not made current: Barbican's request keeps its own.
                context_mod.RequestContext(
                    user_id='buckypaper-vault', project_id=row.project_id,
                    roles=['service'], overwrite=False),
                ticket, row.id, row.project_id, policy, challenge)
        except Exception as exc:  # timeouts, broker down, refusals
            # Imported here: refusals arrive as (subclasses of) it anyway.
            from buckypaper_os.nitride_service import engine as engine_mod
            if isinstance(exc, engine_mod.Refused):
                LOG.info('Vault refused secret %s: the verifier refused '
                         'the request', row.id)
                raise Refused('release not authorized: refused by the '
                              'verifier') from None
            LOG.warning('Vault released nothing for secret %s: Nitride '
                        'gave no decision (%s)', row.id, type(exc).__name__)
            raise NoDecision('release not authorized: no decision from the '
                             'verifier; retry later') from None
        if not (isinstance(answer, dict) and answer.get('allowed') is True
                and isinstance(answer.get('tee_public_key'), str)
                and isinstance(answer.get('instance_uuid'), str)):
            reasons = _reasons(answer)
            LOG.info('Vault refused secret %s: %s', row.id, reasons)
            raise Refused('release not authorized: %s' % '; '.join(
                reasons or ['refused']))
        instance, tee_key = answer['instance_uuid'], answer['tee_public_key']
        try:
            decision.verify(keys, answer.get('signature'), decision.statement(
                challenge, ticket, row.id, row.project_id, policy, instance,
                tee_key))
        except decision.DecisionError as exc:
            LOG.error('Vault refused secret %s although the answer allowed '
                      'it: %s', row.id, exc)
            raise Refused('release not authorized: %s' % exc) from None
        if (policy.get('instance') is not None
                and instance != policy['instance']):
            raise Refused('release not authorized: another instance')
        return instance, tee_key

    def delete_secret(self, secret_metadata: dict) -> None:
        vault_id = secret_metadata.get('vault_id')
        if vault_id:
            with self.keyring.engine.begin() as conn:
                conn.execute(db.SECRETS.delete().where(
                    db.SECRETS.c.id == vault_id))

    # Helpers

    def _row(self, vault_id: typing.Optional[str]):
        """The secret's row with its project's wrapped DEK: one query."""
        if not vault_id:
            raise ss.SecretNotFoundException()
        with self.keyring.engine.connect() as conn:
            row = conn.execute(_SECRET_WITH_DEK.where(
                db.SECRETS.c.id == vault_id)).first()
        if row is None:
            raise ss.SecretNotFoundException()
        return row

    def _open(self, row, policy: typing.Optional[dict]) -> bytes:
        if row.wrapped_dek is None:
            raise ss.SecretGeneralException('project key is missing')
        dek = self.keyring.unwrap(row.project_id, row.kek_id,
                                  row.wrapped_dek)
        try:
            return envelope.open_(dek, row.ciphertext, envelope.secret_aad(
                row.id, row.project_id, policy))
        except envelope.EnvelopeError:
            LOG.error('Vault secret %s does not authenticate', row.id)
            raise ss.SecretGeneralException(
                'stored secret does not authenticate') from None
