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
