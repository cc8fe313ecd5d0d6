"""Retries: transient failures restart the exchange, refusals do not."""

import pytest

from buckypaper_os.enclaivelet import agent
from buckypaper_os.enclaivelet import cli

SETTINGS = {'retries': 3, 'backoff': 1.0, 'max_backoff': 1.5}


def scripted(monkeypatch, *outcomes):
    calls = []

    def attempt(settings, say):
        calls.append(1)
        outcome = outcomes[len(calls) - 1]
        if isinstance(outcome, Exception):
            raise outcome
        return outcome

    monkeypatch.setattr(agent, 'attest_and_release', attempt)
    return calls


def test_backoff_then_success(monkeypatch):
    calls = scripted(monkeypatch, agent.Failure('challenge', 'down', 0),
                     agent.Failure('release', 'relay', 503),
                     bytearray(b'k'))
    sleeps = []
    assert agent.with_retries(SETTINGS, lambda m: None,
                              sleeps.append) == bytearray(b'k')
    assert len(calls) == 3 and sleeps == [1.0, 1.5]


def test_waits_as_long_as_nitride_asks_up_to_max_backoff(monkeypatch):
    settings = dict(SETTINGS, max_backoff=10.0)
    scripted(monkeypatch, agent.Failure('challenge', 'busy', 429, 7),
             agent.Failure('release', 'busy', 429, 3600),
             agent.Failure('release', 'busy', 429),
             bytearray(b'k'))
    sleeps = []
    assert agent.with_retries(settings, lambda m: None,
                              sleeps.append) == bytearray(b'k')
    assert sleeps == [7, 10.0, 4.0]


def test_refusal_is_final(monkeypatch):
    calls = scripted(monkeypatch, agent.Failure('attest', 'no', 403))
    with pytest.raises(agent.Failure) as exc:
        agent.with_retries(SETTINGS, lambda m: None, lambda s: None)
    assert len(calls) == 1
    assert cli._exit_code(exc.value) == cli.EXIT_ATTEST_REFUSED


def test_release_refusal_waits_for_the_binding(monkeypatch):
    calls = scripted(monkeypatch, agent.Failure('release', 'no ACL', 403),
                     agent.Failure('release', 'no payload', 404),
                     bytearray(b'k'))
    assert agent.with_retries(SETTINGS, lambda m: None,
                              lambda s: None) == bytearray(b'k')
    assert len(calls) == 3
    scripted(monkeypatch, *[agent.Failure('release', 'no', 403)] * 4)
    with pytest.raises(agent.Failure) as exc:
        agent.with_retries(SETTINGS, lambda m: None, lambda s: None)
    assert cli._exit_code(exc.value) == cli.EXIT_RELEASE_REFUSED


def test_gives_up(monkeypatch):
    scripted(monkeypatch, *[agent.Failure('challenge', 'down', 0)] * 4)
    with pytest.raises(agent.Failure) as exc:
        agent.with_retries(SETTINGS, lambda m: None, lambda s: None)
    assert cli._exit_code(exc.value) == cli.EXIT_UNREACHABLE


def test_waits_for_the_volume_to_be_attached(tmp_path):
    device = tmp_path / 'vdb'
    settings = {'device': str(device), 'device_wait': 5.0}
    slept, said = [], []

    def sleep(seconds):
        slept.append(seconds)
        if len(slept) == 3:
            device.write_bytes(b'')  # Cinder attached it

    agent.wait_for_device(settings, said.append, sleep)
    assert slept == [1.0] * 3 and len(said) == 1
    device.unlink()
    with pytest.raises(agent.Failure, match='no volume at .* after 5 s') \
            as exc:
        agent.wait_for_device(settings, said.append, lambda s: None)
    assert cli._exit_code(exc.value) == cli.EXIT_VOLUME


def test_no_pinned_keys_uses_no_released_key():
    """Settings built by hand (not config.load) fail closed as well."""
    with pytest.raises(agent.Failure) as exc:
        agent._vouched({'nitride_keys': None}, lambda line: None, 'ticket',
                       None, b'key', b'\x01\x01sealed')
    assert exc.value.stage == 'release'
    assert 'no nitride_keys pinned' in str(exc.value)
    said = []
    agent._vouched({'nitride_keys': None, 'allow_unpinned': True},
                   said.append, 'ticket', None, b'key', b'\x01\x01sealed')
    assert 'WARNING no nitride_keys pinned' in said[0]
