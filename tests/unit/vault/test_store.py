"""The Vault store's logic, with a fake Nitride answer."""

import base64

from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric import ed25519
from cryptography.hazmat.primitives import serialization
from oslo_config import cfg
from oslo_context import context as context_mod
import oslo_messaging as messaging
import pytest
import sqlalchemy as sa

from buckypaper_os.barbican_plugin import db
from buckypaper_os.barbican_plugin import sealing
from buckypaper_os.barbican_plugin import store as store_mod
from buckypaper_os.nitride_service import decision
from buckypaper_os.nitride_service import engine as engine_mod

PROJECT = 'project-a'
INSTANCE = '6f1c2a8e-2a44-4f0e-9d53-1d7b8a3c5e10'
SECRET = 'c0ffee00-2a44-4f0e-9d53-1d7b8a3c5e10'
KEY = bytes(range(64))
TICKET = 'eyJ.a-ticket.sig'
#: Nitride's decision key, and one that Nitride does not have.
NITRIDE = ed25519.Ed25519PrivateKey.generate()
ROGUE = ed25519.Ed25519PrivateKey.generate()


class FakeNitride:
    """Answers authorize_release like Nitride, from a canned answer.

    A yes is signed with ``key`` over what ``lie`` (a function of the
    call's fields) makes of the call: the truth unless a test says so.
    """

    def __init__(self):
        self.answer = None
        self.key = NITRIDE
        self.lie = None
        self.calls = []
        self.contexts = []

    def authorize_release(self, context, ticket, secret_ref, project_id,
                          release_policy, challenge):
        self.calls.append((ticket, secret_ref, project_id, release_policy))
        self.contexts.append(context)
        if isinstance(self.answer, Exception):
            raise self.answer
        if not (isinstance(self.answer, dict) and self.answer.get('allowed')
                and self.key is not None):
            return self.answer
        fields = dict(challenge=challenge, ticket=ticket,
                      secret_ref=secret_ref, project_id=project_id,
                      release_policy=release_policy,
                      instance_uuid=self.answer.get('instance_uuid'),
                      tee_public_key=self.answer.get('tee_public_key'))
        if self.lie:
            fields.update(self.lie(fields))
        return dict(self.answer, signature=decision.sign(
            self.key, decision.statement(**fields)))


@pytest.fixture
def vault(tmp_path, connection, monkeypatch):
    conf = cfg.ConfigOpts()
    store_mod.register_opts(conf)
    kek = tmp_path / 'kek'
    kek.write_bytes(bytes(32))
    public = tmp_path / 'nitride-decision.pub.pem'
    public.write_bytes(NITRIDE.public_key().public_bytes(
        serialization.Encoding.PEM,
        serialization.PublicFormat.SubjectPublicKeyInfo))
    conf([], default_config_files=[])
    conf.set_override('connection', connection, 'buckypaper_vault')
    conf.set_override('kek_files', [str(kek)], 'buckypaper_vault')
    conf.set_override('nitride_decision_key_files', [str(public)],
                      'buckypaper_vault')
    context_mod.RequestContext(project_id=PROJECT, roles=['admin'])
    monkeypatch.setattr(store_mod, '_request_secret_id', lambda: SECRET)
    metadata = {'buckypaper-instance': INSTANCE, 'buckypaper-tee': 'sev-snp'}
    monkeypatch.setattr(store_mod, '_user_metadata',
                        lambda secret_id: metadata)
    store = store_mod.VaultStore(conf, nitride=FakeNitride())
    store.metadata = metadata
    yield store
    db.dispose()
    # The option groups are shared between ConfigOpts objects.
    conf.clear_override('connection', 'buckypaper_vault')
    conf.clear_override('kek_files', 'buckypaper_vault')
    conf.clear_override('nitride_decision_key_files', 'buckypaper_vault')


def dto(data=KEY, content_type='application/octet-stream'):
    return store_mod.ss.SecretDTO('symmetric', base64.b64encode(data),
                                  store_mod.ss.KeySpec(), content_type)


def allowed(pair, instance=INSTANCE):
    return {'allowed': True, 'reasons': [], 'instance_uuid': instance,
            'tee_public_key': base64.b64encode(
                pair.public_bytes()).decode()}


def test_bound_secret_refuses_plain_read(vault):
    meta = vault.store_secret(dto())
    assert meta == {'vault_id': SECRET}
    with pytest.raises(store_mod.Refused) as exc:
        vault.get_secret('symmetric', dict(meta))
    assert exc.value.status_code == 403
    assert vault._nitride.calls == []


def test_release_sealed(vault):
    meta = vault.store_secret(dto())
    pair = sealing.TeeKeyPair()
    vault._nitride.answer = allowed(pair)
    request = context_mod.get_current()
    out = vault.get_secret('symmetric', dict(
        meta, trans_wrapped_session_key=TICKET, transport_key='x'))
    blob = base64.b64decode(out.secret)
    assert KEY not in blob
    assert pair.open(blob, INSTANCE, SECRET) == KEY
    assert vault._nitride.calls == [(
        TICKET, SECRET, PROJECT,
        {'instance': INSTANCE, 'tee': 'sev-snp'})]
    (asked,) = vault._nitride.contexts
    assert (asked.project_id, asked.roles) == (PROJECT, ['service'])
    # Barbican's request context stays the current one (its logs, policy).
    assert context_mod.get_current() is request


@pytest.mark.parametrize('answer', [
    {'allowed': False, 'reasons': ['attestation is contraindicated']},
    {'allowed': 'yes', 'instance_uuid': INSTANCE, 'tee_public_key': 'AA=='},
    {'allowed': True, 'instance_uuid': INSTANCE},
    {'allowed': False, 'reasons': 5},
    {'allowed': False, 'reasons': [{'x': 1}, 'r' * 10000] * 50},
    None, [],
    engine_mod.Refused('forbidden'),
])
def test_refusals_release_nothing(vault, answer):
    meta = vault.store_secret(dto())
    vault._nitride.answer = answer
    with pytest.raises(store_mod.Refused) as exc:
        vault.get_secret('symmetric', dict(
            meta, trans_wrapped_session_key='ticket'))
    assert exc.value.status_code == 403
    # Unsigned reasons reach the client, but only so much of them.
    assert len(exc.value.client_message) <= 40 + store_mod.MAX_REASONS * (
        store_mod.MAX_REASON + 2)


@pytest.mark.parametrize('ticket', ['', 'x' * (store_mod.MAX_TICKET + 1),
                                    'eyJ\udcff.a.b', 'eyJé.a.b', 5])
def test_malformed_ticket_asks_no_one(vault, ticket):
    meta = vault.store_secret(dto())
    with pytest.raises(store_mod.Refused, match='malformed ticket'):
        vault.release(meta['vault_id'], ticket)
    assert vault._nitride.calls == []


@pytest.mark.parametrize('failure', [
    messaging.MessagingTimeout('no reply'),
    messaging.MessageDeliveryFailure('broker down'),
    RuntimeError('broker down'),
])
def test_no_decision_releases_nothing_and_may_be_retried(vault, failure):
    meta = vault.store_secret(dto())
    vault._nitride.answer = failure
    with pytest.raises(store_mod.NoDecision) as exc:
        vault.get_secret('symmetric', dict(
            meta, trans_wrapped_session_key='ticket'))
    assert exc.value.status_code == 503
    assert 'no decision' in exc.value.client_message


def test_answer_for_another_instance_refused(vault):
    meta = vault.store_secret(dto())
    vault._nitride.answer = allowed(sealing.TeeKeyPair(), instance=SECRET)
    with pytest.raises(store_mod.Refused):
        vault.get_secret('symmetric', dict(
            meta, trans_wrapped_session_key='ticket'))


def test_bad_public_key_releases_nothing(vault):
    meta = vault.store_secret(dto())
    vault._nitride.answer = dict(allowed(sealing.TeeKeyPair()),
                                 tee_public_key='AAAA')
    with pytest.raises(store_mod.Refused):
        vault.get_secret('symmetric', dict(
            meta, trans_wrapped_session_key=TICKET))


def _forged(vault, answer=None, **nitride):
    """A yes that is not Nitride's signed decision on this very call."""
    meta = vault.store_secret(dto())
    vault._nitride.answer = answer or allowed(sealing.TeeKeyPair())
    for name, value in nitride.items():
        setattr(vault._nitride, name, value)
    with pytest.raises(store_mod.Refused) as exc:
        vault.get_secret('symmetric', dict(
            meta, trans_wrapped_session_key=TICKET))
    assert exc.value.status_code == 403
    return exc.value.client_message


def test_yes_without_signature(vault):
    """Whoever answers on Nitride's topic cannot sign decisions."""
    assert 'signature is malformed' in _forged(vault, key=None)


def test_yes_signed_by_another_key(vault):
    assert 'not signed by a pinned Nitride key' in _forged(vault, key=ROGUE)


ATTACKER = base64.b64encode(
    sealing.TeeKeyPair(sealing.P384).public_bytes()).decode()


@pytest.mark.parametrize('lie', [
    # A decision of another call, replayed.
    lambda f: {'challenge': decision.new_challenge()},
    lambda f: {'ticket': 'another ticket'},
    lambda f: {'secret_ref': 'another-secret'},
    lambda f: {'project_id': 'project-b'},
    lambda f: {'instance_uuid': '0b5d6c8e-3a4f-4e21-9d7c-5f6a7b8c9d0e'},
    # Decided on a weaker policy than the secret's.
    lambda f: {'release_policy': {'project': PROJECT}},
    # Signed for the attacker's key, while the answer names the guest's.
    lambda f: {'tee_public_key': ATTACKER},
], ids=['challenge', 'ticket', 'secret', 'project', 'instance', 'policy',
        'tee-key'])
def test_yes_signed_over_something_else(vault, lie):
    assert 'not signed by a pinned Nitride key' in _forged(vault, lie=lie)


def test_signed_yes_replayed(vault):
    """A genuine yes, captured on the bus, answers no later call."""
    meta = vault.store_secret(dto())
    pair = sealing.TeeKeyPair()
    vault._nitride.answer = allowed(pair)
    signed = vault._nitride.authorize_release
    captured = []

    def record(*args):
        captured.append(signed(*args))
        return captured[-1]

    vault._nitride.authorize_release = record
    request = dict(meta, trans_wrapped_session_key=TICKET)
    assert pair.open(base64.b64decode(vault.get_secret(
        'symmetric', dict(request)).secret), INSTANCE, SECRET) == KEY
    vault._nitride.authorize_release = lambda *args: captured[0]
    with pytest.raises(store_mod.Refused, match='not signed'):
        vault.get_secret('symmetric', dict(request))


def test_signed_yes_redirected_to_another_key(vault):
    """A genuine signature, the attacker's key swapped into the answer."""
    signed = vault._nitride.authorize_release

    def swap(*args):
        return dict(signed(*args), tee_public_key=ATTACKER)

    vault._nitride.authorize_release = swap
    assert 'not signed' in _forged(vault)


def test_no_pinned_decision_keys_releases_nothing(vault):
    vault.conf.set_override('nitride_decision_key_files', [],
                            'buckypaper_vault')
    meta = vault.store_secret(dto())
    vault._nitride.answer = allowed(sealing.TeeKeyPair())
    with pytest.raises(store_mod.NotConfigured) as exc:
        vault.get_secret('symmetric', dict(
            meta, trans_wrapped_session_key=TICKET))
    assert exc.value.status_code == 500
    assert vault._nitride.calls == []


def test_decision_key_of_another_kind_releases_nothing(vault, tmp_path):
    pem = tmp_path / 'p384.pub.pem'
    public = ec.generate_private_key(ec.SECP384R1()).public_key()
    pem.write_bytes(public.public_bytes(
        serialization.Encoding.PEM,
        serialization.PublicFormat.SubjectPublicKeyInfo))
    vault.conf.set_override('nitride_decision_key_files', [str(pem)],
                            'buckypaper_vault')
    meta = vault.store_secret(dto())
    with pytest.raises(store_mod.NotConfigured):
        vault.get_secret('symmetric', dict(
            meta, trans_wrapped_session_key=TICKET))


def test_unbound_secret_reads_plainly(vault, monkeypatch):
    monkeypatch.setattr(store_mod, '_request_secret_id', lambda: None)
    meta = vault.store_secret(dto(b'ordinary'))
    assert meta['vault_id'] != SECRET
    out = vault.get_secret('opaque', dict(meta))
    assert base64.b64decode(out.secret) == b'ordinary'
    with pytest.raises(store_mod.Refused):
        vault.get_secret('opaque', dict(meta,
                                        trans_wrapped_session_key='t'))
    vault.delete_secret(meta)
    with pytest.raises(store_mod.ss.SecretNotFoundException):
        vault.get_secret('opaque', dict(meta))


def test_nothing_stored_in_clear(vault):
    vault.store_secret(dto())
    with vault.keyring.engine.connect() as conn:
        rows = conn.execute(sa.select(db.SECRETS)).all()
        rows += conn.execute(sa.select(db.PROJECT_KEYS)).all()
    blobs = b''.join(v for row in rows for v in row
                     if isinstance(v, bytes))
    assert rows and KEY[:16] not in blobs


def test_missing_project_key_releases_nothing(vault):
    meta = vault.store_secret(dto())
    with vault.keyring.engine.begin() as conn:
        conn.execute(db.PROJECT_KEYS.delete())
    pair = sealing.TeeKeyPair(sealing.P384)
    vault._nitride.answer = allowed(pair)
    with pytest.raises(store_mod.ss.SecretGeneralException):
        vault.get_secret('symmetric', dict(
            meta, trans_wrapped_session_key=TICKET))


def test_policy_tampering_makes_secret_unreadable(vault):
    meta = vault.store_secret(dto())
    table = db.SECRETS
    with vault.keyring.engine.begin() as conn:
        conn.execute(table.update().values(policy=None))
    with pytest.raises(store_mod.ss.SecretGeneralException):
        vault.get_secret('symmetric', dict(meta))


@pytest.mark.parametrize('metadata', [
    {'buckypaper-tee': 'sev-snp'},
    {'buckypaper-instance': 'not-a-uuid'},
    {'buckypaper-project': 'another'},
    {'buckypaper-instance': INSTANCE, 'buckypaper-tee': 'sgx'},
    {'buckypaper-instance': INSTANCE, 'buckypaper-min-tcb': '{"snp": -1}'},
    {'buckypaper-instance': INSTANCE, 'buckypaper-colour': 'red'},
])
def test_bad_policies_refused_at_store(vault, metadata):
    vault.metadata.clear()
    vault.metadata.update(metadata)
    with pytest.raises(store_mod.BadPolicy):
        vault.store_secret(dto())


def test_store_needs_a_project_and_a_plain_payload(vault):
    context_mod.RequestContext(project_id=None)
    with pytest.raises(store_mod.Refused, match='no project'):
        vault.store_secret(dto())
    context_mod.RequestContext(project_id=PROJECT)
    wrapped = store_mod.ss.SecretDTO('symmetric', base64.b64encode(KEY),
                                     store_mod.ss.KeySpec(),
                                     'application/octet-stream',
                                     transport_key='a transport key')
    with pytest.raises(store_mod.BadPolicy, match='transport-wrapped'):
        vault.store_secret(wrapped)


def test_bound_secrets_are_binary(vault):
    """A sealed release is bytes: a text secret cannot be bound."""
    with pytest.raises(store_mod.BadPolicy, match='must be binary'):
        vault.store_secret(dto(content_type='text/plain'))
    vault.metadata.clear()
    meta = vault.store_secret(dto(b'hello', content_type='text/plain'))
    assert base64.b64decode(vault.get_secret('opaque', meta).secret) == (
        b'hello')


def test_project_policy(vault):
    vault.metadata.clear()
    vault.metadata.update({'buckypaper-project': PROJECT,
                           'buckypaper-min-tcb': '{"snp": 20}'})
    meta = vault.store_secret(dto())
    pair = sealing.TeeKeyPair(sealing.P384)
    vault._nitride.answer = allowed(pair)
    out = vault.get_secret('symmetric', dict(
        meta, trans_wrapped_session_key=TICKET))
    assert pair.open(base64.b64decode(out.secret), INSTANCE, SECRET) == KEY
    assert vault._nitride.calls[0][3] == {'project': PROJECT,
                                          'min_tcb': {'snp': 20}}


def test_instance_uuid_kept_in_canonical_form(vault):
    """Braced or upper-case UUIDs would never equal a token's instance."""
    vault.metadata['buckypaper-instance'] = '{%s}' % INSTANCE.upper()
    meta = vault.store_secret(dto())
    pair = sealing.TeeKeyPair()
    vault._nitride.answer = allowed(pair)
    out = vault.get_secret('symmetric', dict(
        meta, trans_wrapped_session_key=TICKET))
    assert pair.open(base64.b64decode(out.secret), INSTANCE, SECRET) == KEY
    assert vault._nitride.calls[0][3]['instance'] == INSTANCE
