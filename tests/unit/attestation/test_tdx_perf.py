"""A warm TDX verification costs one ECDSA verify (everything else cached)."""

from buckypaper_os import attestation
from buckypaper_os.attestation.tdx import tee as tdx_tee
from buckypaper_os.attestation import x509util
from tests.unit.attestation import tdx_fakes as fakes


def test_warm_verify_is_one_signature_check(monkeypatch):
    pki = fakes.make_pki()
    plugin = tdx_tee.TDX(trust=pki.trust)
    collateral = fakes.collateral(pki)
    policy = attestation.Policy()

    def appraise(quote):
        return plugin.appraise(quote, certs=(), collateral=collateral,
                               at=fakes.AT, policy=policy)

    assert appraise(fakes.make_quote(pki)).verified
    calls = []
    real = x509util.verify_signature

    def counting(*args):
        calls.append(args)
        return real(*args)

    monkeypatch.setattr(x509util, 'verify_signature', counting)
    # A new quote of the same platform: only its own signature is checked.
    result = appraise(fakes.make_quote(pki, report_data=b'\x01' * 64))
    assert result.verified and result.tcb_status == 'UpToDate'
    assert len(calls) == 1
