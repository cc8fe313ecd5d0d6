"""The Vault store's logic, with a fake Nitride answer."""

import base64
import time

from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives import serialization
from oslo_config import cfg
from oslo_context import context as context_mod
import oslo_messaging as messaging
import pytest
import sqlalchemy as sa

from buckypaper_os.attestation import result as result_mod
from buckypaper_os.barbican_plugin import db
from buckypaper_os.barbican_plugin import sealing
from buckypaper_os.barbican_plugin import store as store_mod
from buckypaper_os.nitride_service import engine as engine_mod
from buckypaper_os.nitride_service import token

PROJECT = 'project-a'
INSTANCE = '6f1c2a8e-2a44-4f0e-9d53-1d7b8a3c5e10'
SECRET = 'c0ffee00-2a44-4f0e-9d53-1d7b8a3c5e10'
KEY = bytes(range(64))
#: Nitride's token key, and one that Nitride does not have.
NITRIDE = token.Signer(ec.generate_private_key(ec.SECP384R1()))
ROGUE = token.Signer(ec.generate_private_key(ec.SECP384R1()))


class FakeNitride:
    """Answers authorize_release like Nitride, from a canned answer."""

    def __init__(self):
        self.answer = None
        self.calls = []
        self.contexts = []

    def authorize_release(self, context, ticket, secret_ref, project_id,
                          release_policy):
        self.calls.append((ticket, secret_ref, project_id, release_policy))
        self.contexts.append(context)
        if isinstance(self.answer, Exception):
            raise self.answer
        return self.answer


@pytest.fixture
def vault(tmp_path, connection, monkeypatch):
    conf = cfg.ConfigOpts()
    store_mod.register_opts(conf)
    kek = tmp_path / 'kek'
    kek.write_bytes(bytes(32))
    public = tmp_path / 'nitride-token.pub.pem'
    public.write_bytes(NITRIDE.public_keys()[0].public_bytes(
        serialization.Encoding.PEM,
        serialization.PublicFormat.SubjectPublicKeyInfo))
    conf([], default_config_files=[])
    conf.set_override('connection', connection, 'buckypaper_vault')
    conf.set_override('kek_files', [str(kek)], 'buckypaper_vault')
    conf.set_override('nitride_token_key_files', [str(public)],
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
    conf.clear_override('nitride_token_key_files', 'buckypaper_vault')


def ticket(pair, instance=INSTANCE, project=PROJECT, signer=NITRIDE,
           now=None) -> str:
    """An attestation token naming ``pair``'s public key."""
    result = result_mod.AttestationResult(
        tee='sev-snp', verified=True, status='affirming', claims={})
    return token.issue(signer, result, instance, project,
                       pair.public_bytes(), 300, now=now).token


def dto(data=KEY):
    return store_mod.ss.SecretDTO('symmetric', base64.b64encode(data),
                                  store_mod.ss.KeySpec(),
                                  'application/octet-stream')


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
    signed = ticket(pair)
    out = vault.get_secret('symmetric', dict(
        meta, trans_wrapped_session_key=signed, transport_key='x'))
    blob = base64.b64decode(out.secret)
    assert KEY not in blob
    assert pair.open(blob, INSTANCE, SECRET) == KEY
    assert vault._nitride.calls == [(
        signed, SECRET, PROJECT,
        {'instance': INSTANCE, 'tee': 'sev-snp'})]
    (asked,) = vault._nitride.contexts
    assert (asked.project_id, asked.roles) == (PROJECT, ['service'])
    # Barbican's request context stays the current one (its logs, policy).
    assert context_mod.get_current() is request


@pytest.mark.parametrize('answer', [
    {'allowed': False, 'reasons': ['attestation is contraindicated']},
    {'allowed': 'yes', 'instance_uuid': INSTANCE, 'tee_public_key': 'AA=='},
    {'allowed': True, 'instance_uuid': INSTANCE},
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
            meta, trans_wrapped_session_key=ticket(sealing.TeeKeyPair())))


def _forged(vault, signed, answer):
    """A yes that does not come from Nitride's decision on ``signed``."""
    meta = vault.store_secret(dto())
    vault._nitride.answer = answer
    with pytest.raises(store_mod.Refused) as exc:
        vault.get_secret('symmetric', dict(
            meta, trans_wrapped_session_key=signed))
    assert exc.value.status_code == 403
    return exc.value.client_message


ATTACKER = sealing.TeeKeyPair(sealing.P384)


@pytest.mark.parametrize('signed, message', [
    (ticket(ATTACKER, signer=ROGUE), 'signed by an unknown key'),
    ('not-a-jws', 'not a compact JWS'),
])
def test_yes_for_a_ticket_nitride_did_not_sign(vault, signed, message):
    """Whoever answers on Nitride's topic cannot mint tickets."""
    assert message in _forged(vault, signed, allowed(ATTACKER))


def test_yes_naming_another_key_than_the_ticket(vault):
    """A genuine ticket, a forged answer with the attacker's key."""
    message = _forged(vault, ticket(sealing.TeeKeyPair()),
                      allowed(sealing.TeeKeyPair()))
    assert 'answer does not match the ticket' in message


def test_yes_for_a_ticket_of_another_project(vault):
    pair = sealing.TeeKeyPair()
    assert 'does not match' in _forged(
        vault, ticket(pair, project='project-b'), allowed(pair))


def test_yes_for_an_expired_ticket(vault):
    pair = sealing.TeeKeyPair()
    assert 'expired' in _forged(
        vault, ticket(pair, now=time.time() - 3600), allowed(pair))


def test_no_pinned_token_keys_releases_nothing(vault):
    vault.conf.set_override('nitride_token_key_files', [],
                            'buckypaper_vault')
    meta = vault.store_secret(dto())
    pair = sealing.TeeKeyPair()
    vault._nitride.answer = allowed(pair)
    with pytest.raises(store_mod.NotConfigured) as exc:
        vault.get_secret('symmetric', dict(
            meta, trans_wrapped_session_key=ticket(pair)))
    assert exc.value.status_code == 500


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
            meta, trans_wrapped_session_key=ticket(pair)))


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


def test_project_policy(vault):
    vault.metadata.clear()
    vault.metadata.update({'buckypaper-project': PROJECT,
                           'buckypaper-min-tcb': '{"snp": 20}'})
    meta = vault.store_secret(dto())
    pair = sealing.TeeKeyPair(sealing.P384)
    vault._nitride.answer = allowed(pair)
    out = vault.get_secret('symmetric', dict(
        meta, trans_wrapped_session_key=ticket(pair)))
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
        meta, trans_wrapped_session_key=ticket(pair)))
    assert pair.open(base64.b64decode(out.secret), INSTANCE, SECRET) == KEY
    assert vault._nitride.calls[0][3]['instance'] == INSTANCE
