"""The operator's allowlist of launch measurements."""

import uuid

import pytest

from buckypaper_os.nitride_service import allowlist
from buckypaper_os.nitride_service import appraisal
from buckypaper_os.nitride_service.db import api as db_api
from buckypaper_os.nitride_service import decision
from buckypaper_os.nitride_service import engine as engine_mod
from tests.unit.nitride import guests

PROJECT = 'project-a'
MEASUREMENT = guests.MEASUREMENT.hex()
OTHER = 'ab' * 48
_attest = guests.attest


def _file(tmp_path, text: str) -> str:
    path = tmp_path / 'allowed-measurements'
    path.write_text(text)
    return str(path)


def test_load_reads_hex_lines_and_comments(tmp_path):
    path = _file(tmp_path, '# firmware 2026.08, 2 and 4 vCPUs\n\n'
                 '%s\n  %s  # 4 vCPUs\n' % (MEASUREMENT.upper(), OTHER))
    assert allowlist.load(path) == {MEASUREMENT, OTHER}
    assert allowlist.load(None) is None and allowlist.load('') is None


@pytest.mark.parametrize('text, line', [
    ('%s\nnot hex\n', 2), ('%s\n%s00\n', 2), ('%s\n' + 'g' * 96, 2),
    ('%s\n%s\n' + 'a' * 95, 3)])
def test_load_names_the_first_bad_line(tmp_path, text, line):
    path = _file(tmp_path, text.replace('%s', MEASUREMENT))
    with pytest.raises(allowlist.AllowlistError, match='line %d' % line):
        allowlist.load(path)


def test_an_empty_or_missing_file_is_an_error(tmp_path):
    with pytest.raises(allowlist.AllowlistError, match='no measurement'):
        allowlist.load(_file(tmp_path, '# nothing yet\n'))
    with pytest.raises(allowlist.AllowlistError):
        allowlist.load(str(tmp_path / 'absent'))
    with pytest.raises(allowlist.AllowlistError):
        allowlist.load(_file(tmp_path, '\u00e9' * 96))


def test_permitted_keeps_the_listed_only():
    assert allowlist.permitted(None, [MEASUREMENT, OTHER]) == [MEASUREMENT,
                                                               OTHER]
    assert allowlist.permitted(frozenset([OTHER]),
                               [MEASUREMENT, OTHER.upper()]) == [
        OTHER.upper()]
    assert allowlist.permitted(frozenset([OTHER]), [MEASUREMENT]) == []


@pytest.fixture
def listing(nitride_conf, decision_key_file, tmp_path):
    """An engine whose allowlist holds ``measurements``."""
    def engine(*measurements):
        nitride_conf.set_override(
            'allowed_measurements_file',
            _file(tmp_path, '\n'.join(measurements)), 'nitride')
        return engine_mod.Engine(nitride_conf,
                                 decision_key=decision.load_private_key(
                                     decision_key_file))
    yield engine
    nitride_conf.clear_override('allowed_measurements_file', 'nitride')


def test_registration_outside_the_list_is_refused_and_audited(listing):
    engine = listing(OTHER)
    instance = str(uuid.uuid4())
    with pytest.raises(engine_mod.Refused) as exc:
        engine.register(instance, PROJECT, 'sev-snp', [OTHER, MEASUREMENT])
    assert exc.value.code == 403
    assert exc.value.reasons == [
        'measurement %s is not in the operator\'s allowed measurements'
        % MEASUREMENT]
    assert db_api.binding_get(instance) is None
    assert db_api.reference_get(instance) is None
    last = db_api.audit_list(instance)[-1]
    assert (last['event'], last['decision']) == ('register', 'refused')
    assert MEASUREMENT in last['reasons'][0]


def test_listed_measurements_register_and_attest(listing, pki):
    engine = listing(MEASUREMENT, OTHER)
    instance = str(uuid.uuid4())
    engine.register(instance, PROJECT, 'sev-snp', [MEASUREMENT.upper()])
    guest = guests.Guest(pki, instance, PROJECT)
    assert _attest(engine, guest)['status'] == 'affirming'


def test_a_measurement_taken_off_the_list_no_longer_attests(listing, pki):
    instance = str(uuid.uuid4())
    listing(MEASUREMENT).register(instance, PROJECT, 'sev-snp',
                                  [MEASUREMENT])
    guest = guests.Guest(pki, instance, PROJECT)
    engine = listing(OTHER)  # the operator revoked that firmware
    with pytest.raises(engine_mod.Refused) as exc:
        _attest(engine, guest)
    assert exc.value.reasons == [
        'no registered measurement of this instance is in the operator\'s '
        'allowed measurements']
    last = db_api.audit_list(instance)[-1]
    assert (last['event'], last['decision']) == ('attest', 'refused')
    assert db_api.attestation_get_latest(instance) is None


def test_only_the_listed_of_its_measurements_attest(listing, pki):
    """An instance registered with two measurements, one later revoked."""
    instance = str(uuid.uuid4())
    listing(MEASUREMENT, OTHER).register(instance, PROJECT, 'sev-snp',
                                         [MEASUREMENT, OTHER])
    guest = guests.Guest(pki, instance, PROJECT)  # launched as MEASUREMENT
    with pytest.raises(engine_mod.Refused) as exc:
        _attest(listing(OTHER), guest)
    assert any(r.startswith('measurement ') for r in exc.value.reasons), (
        exc.value.reasons)
    assert db_api.attestation_get_latest(instance)['status'] == (
        'contraindicated')


def test_the_allowlist_is_part_of_the_policy_id():
    """Tokens appraised under another allowlist name another policy."""
    ids = {appraisal.policy_id(None, None),
           appraisal.policy_id(None, frozenset([MEASUREMENT])),
           appraisal.policy_id(None, frozenset([OTHER])),
           appraisal.policy_id({'allow_debug': False},
                               frozenset([OTHER]))}
    assert len(ids) == 4


def test_a_bad_allowlist_stops_the_engine(listing):
    with pytest.raises(allowlist.AllowlistError):
        listing('not a measurement')


def test_measurements_are_stored_in_one_spelling(listing, pki):
    engine = listing(MEASUREMENT)
    instance = str(uuid.uuid4())
    spaced = ' '.join(MEASUREMENT[i:i + 8].upper()
                      for i in range(0, len(MEASUREMENT), 8))
    engine.register(instance, PROJECT, 'sev-snp', [spaced])
    assert db_api.reference_get(instance)['measurements'] == [MEASUREMENT]
    guest = guests.Guest(pki, instance, PROJECT)
    assert _attest(engine, guest)['status'] == 'affirming'


def test_a_ticket_of_a_measurement_taken_off_the_list_releases_nothing(
        listing, pki):
    engine = listing(MEASUREMENT)
    instance = str(uuid.uuid4())
    engine.register(instance, PROJECT, 'sev-snp', [MEASUREMENT])
    ticket = _attest(engine, guests.Guest(pki, instance, PROJECT))['token']
    policy = {'instance': instance}
    challenge = decision.new_challenge()
    assert engine.authorize_release(ticket, 's', PROJECT, policy,
                                    challenge)['allowed']
    answer = listing(OTHER).authorize_release(ticket, 's', PROJECT, policy,
                                              challenge)
    assert not answer['allowed']
    assert 'the attested measurement is no longer in the operator\'s ' \
        'allowed measurements' in answer['reasons']
