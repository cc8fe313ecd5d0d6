"""Bit flips and random mutations never verify and never crash."""

import random
import struct

from cryptography.hazmat.primitives import serialization
import hypothesis
from hypothesis import strategies as st
import pytest

from buckypaper_os import attestation
from buckypaper_os.attestation import collateral_dir
from buckypaper_os.attestation.tdx import abi
from buckypaper_os.attestation.tdx import collateral as collateral_mod
from buckypaper_os.attestation.tdx import pck
from tests import fuzzing
from tests import vectors

pytestmark = vectors.needs_vectors
SIGNED_PREFIX = fuzzing.TDX_SIGNED_PREFIX
SETTINGS = fuzzing.SETTINGS


@pytest.fixture(scope='module')
def case():
    return vectors.Case('tdx-v4-uptodate')


def _outcome(evidence, case, collateral=None):
    """'error' for EvidenceError, else the result.

    Any other exception propagates and fails the test.
    """
    try:
        return attestation.verify(evidence, at=case.at,
                                  collateral=collateral or case.collateral)
    except attestation.EvidenceError:
        return 'error'


def _flip(data: bytes, bit: int) -> bytes:
    flipped = bytearray(data)
    flipped[bit // 8] ^= 1 << (bit % 8)
    return bytes(flipped)


def test_every_header_and_body_bit(case):
    evidence = case.evidence
    assert attestation.verify(evidence, at=case.at,
                              collateral=case.collateral).verified
    signed_bits = (abi.HEADER_SIZE + abi.TD10_BODY_SIZE) * 8
    for bit in range(signed_bits):
        outcome = _outcome(_flip(evidence, bit), case)
        assert outcome == 'error' or (
            not outcome.verified and outcome.status == 'contraindicated'
            and outcome.tcb_status is None), bit


def test_sampled_signature_data_bits(case):
    evidence = case.evidence
    start = (abi.HEADER_SIZE + abi.TD10_BODY_SIZE) * 8
    end = (abi.HEADER_SIZE + abi.TD10_BODY_SIZE + 4 + struct.unpack_from(
        '<I', evidence, 632)[0]) * 8
    original = _chain_der(evidence)
    rng = random.Random(20261127)
    for bit in rng.sample(range(start, end), 400):
        flipped = _flip(evidence, bit)
        outcome = _outcome(flipped, case)
        # PEM ignores some whitespace changes: the certificates stay the same.
        assert outcome == 'error' or not outcome.verified or (
            _chain_der(flipped) == original), bit


def _chain_der(evidence: bytes) -> list:
    return [c.public_bytes(serialization.Encoding.DER)
            for c in pck.certificates(abi.parse(evidence).pck_chain)]


@SETTINGS
@hypothesis.given(st.binary(max_size=6000))
def test_arbitrary_bytes(data):
    try:
        result = attestation.verify(data, tee='tdx')
    except attestation.EvidenceError:
        return
    assert not result.verified


@SETTINGS
@hypothesis.given(st.binary(min_size=0, max_size=5000))
def test_tdx_header_then_arbitrary_bytes(tail):
    header = struct.pack('<HHIHH16s20s', 4, 2, 0x81, 0, 0, bytes(16),
                         bytes(20))
    try:
        result = attestation.verify(header + tail)
    except attestation.EvidenceError:
        return
    assert not result.verified


@SETTINGS
@hypothesis.given(data=st.data())
def test_mutated_quotes(case, data):
    original = case.evidence
    evidence = bytearray(original)
    for _ in range(data.draw(st.integers(1, 4))):
        evidence[data.draw(st.integers(0, SIGNED_PREFIX - 1))] ^= data.draw(
            st.integers(1, 255))
    cut = data.draw(st.integers(0, len(evidence)))
    hypothesis.assume(evidence[:SIGNED_PREFIX] != original[:SIGNED_PREFIX]
                      or cut < SIGNED_PREFIX)
    outcome = _outcome(bytes(evidence[:cut]), case)
    assert outcome == 'error' or not outcome.verified


def _files(case):
    return {name: case.read(name) for name in collateral_mod.FILES}


@SETTINGS
@hypothesis.given(data=st.data())
def test_mutated_collateral_never_crashes(case, data):
    files = _files(case)
    name = data.draw(st.sampled_from(collateral_mod.FILES))
    content = bytearray(files[name])
    for _ in range(data.draw(st.integers(1, 3))):
        pos = data.draw(st.integers(0, len(content) - 1))
        content[pos] = data.draw(st.integers(0, 255))
    files[name] = bytes(content[:data.draw(st.integers(0, len(content)))])
    outcome = _outcome(case.evidence, case,
                       collateral_dir.MemoryCollateral(files))
    assert outcome == 'error' or outcome.verified is False or (
        outcome.tcb_status == 'UpToDate'
        and outcome.claims == case.expected['claims'])


@SETTINGS
@hypothesis.given(data=st.data(),
                  name=st.sampled_from(['tcb_info.json',
                                        'qe_identity.json']))
def test_mutated_signed_collateral_never_verifies(case, data, name):
    files = _files(case)
    body = files[name]
    start = body.index(b':') + 1
    end = body.rindex(b',"signature"')
    pos = data.draw(st.integers(start, end - 1))
    byte = data.draw(st.integers(0, 255).filter(lambda b: b != body[pos]))
    files[name] = body[:pos] + bytes((byte,)) + body[pos + 1:]
    outcome = _outcome(case.evidence, case,
                       collateral_dir.MemoryCollateral(files))
    assert outcome == 'error' or not outcome.verified
