"""configfs-tsm against the simulated tree, and the generation race."""

import os
import types

import pytest

from buckypaper_os.attestation.snp import abi
from buckypaper_os.enclaivelet import evidence
from buckypaper_os.enclaivelet import tsm
from buckypaper_os.simulated_tee import attester as attester_mod
from buckypaper_os.simulated_tee import tsm as fake


@pytest.fixture
def attester(pki):
    return attester_mod.SimulatedAttester(
        pki, measurement=b'\x5a' * 48, host_data=b'\x01' * 32)


def test_report_carries_report_data(tmp_path, attester):
    data = os.urandom(64)
    with fake.SimulatedTsm(str(tmp_path), attester) as tree:
        taken = evidence.collect(data, str(tmp_path))
    assert taken.tee == 'sev-snp'
    assert abi.parse(taken.report).report_data == data
    assert len(taken.certificates) == 3
    assert tree.reports == 1
    assert os.listdir(str(tmp_path)) == []  # the report dir is gone


def test_concurrent_writer_is_detected(tmp_path, attester):
    with fake.SimulatedTsm(str(tmp_path), attester,
                           concurrent_writer=True):
        with pytest.raises(tsm.TsmError, match='another writer'):
            tsm.get_report(os.urandom(64), str(tmp_path))
    assert os.listdir(str(tmp_path)) == []


def test_no_tee(tmp_path):
    with pytest.raises(evidence.EvidenceError, match='no TEE interface'):
        evidence.collect(bytes(64), str(tmp_path / 'no-tsm'),
                         str(tmp_path / 'no-sev-guest'))


def test_report_data_size(tmp_path):
    with pytest.raises(tsm.TsmError, match='64 bytes'):
        tsm.get_report(bytes(32), str(tmp_path))


def test_simulator_skips_a_write_in_progress(tmp_path, monkeypatch):
    """A stat before and after the read that differ: look again later."""
    inblob = tmp_path / 'inblob'
    inblob.write_bytes(b'x' * 64)
    real, times = os.stat, iter([1, 2, 2, 2])

    def stat(path, *args, **kwargs):
        info = real(path, *args, **kwargs)
        return types.SimpleNamespace(st_ino=info.st_ino,
                                     st_mtime_ns=next(times))

    monkeypatch.setattr(os, 'stat', stat)
    assert fake.SimulatedTsm._state(str(inblob)) is None
    assert fake.SimulatedTsm._state(str(inblob))[2] == b'x' * 64
