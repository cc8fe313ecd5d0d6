"""Intel PCS v4 collateral: signatures, CRLs and the TCB status of a quote.

TCB Info (``{"tcbInfo":{...},"signature":"<hex r||s>"}``) and QE Identity
(``{"enclaveIdentity":{...},...}``) are signed over the exact bytes of the
inner object as served, so that byte span is cut out of the body, never
re-serialized. Their signer is an ``Intel SGX TCB Signing`` certificate
chaining to a trusted root. The PCK CRL must be signed by the PCK
certificate's issuer and the root CA CRL by the root.

The TCB status follows Intel's Quote Verification Library: TCB levels
sorted by SGX components, PCESVN, then TDX components (highest first); the
first level whose SGX components and PCESVN are <= the PCK certificate's
and whose TDX components are <= TEE_TCB_SVN is the platform's (bytes 0 and
1 skipped when the TDX module major version TEE_TCB_SVN[1] is not 0: the
module SVN is then graded by ``tdxModuleIdentities`` ``TDX_<major>``).
OutOfDate / Revoked TDX module or QE levels downgrade the platform status.

The files are read by their names above (the layout of the test vectors)
or, when none is there, from an offline cache of Intel PCS v4 responses
keyed by the platform's FMSPC (lowercase hex)::

    tdx/v4/{fmspc}/tcb_info.json, tdx/v4/{fmspc}/qe_identity.json, ...

A partial collateral set fails closed: the quote is reported unverified
with the missing file names (no TCB status is guessed from half of it).
The result is cached by content, validity windows are checked per call.
"""

import datetime
import functools
import hmac
import json
import re
import typing

from cryptography import x509

from buckypaper_os.attestation import errors
from buckypaper_os.attestation.tdx import abi
from buckypaper_os.attestation.tdx import pck
from buckypaper_os.attestation.tdx import verify
from buckypaper_os.attestation import x509util

FILES = ('tcb_info.json', 'tcb_info_issuer_chain.pem', 'qe_identity.json',
         'qe_identity_issuer_chain.pem', 'pck_crl.der',
         'pck_crl_issuer_chain.pem', 'root_ca_crl.der')
TCB_SIGNER_CN = 'Intel SGX TCB Signing'
UP_TO_DATE = 'UpToDate'
OUT_OF_DATE = 'OutOfDate'
REVOKED = 'Revoked'
NO_MATCH = 'NoMatchingTcbLevel'
TCB_STATUSES = frozenset((
    UP_TO_DATE, 'SWHardeningNeeded', 'ConfigurationNeeded',
    'ConfigurationAndSWHardeningNeeded', OUT_OF_DATE,
    'OutOfDateConfigurationNeeded', REVOKED))
_IDENTITY_STATUSES = frozenset((UP_TO_DATE, OUT_OF_DATE, REVOKED))
_DOWNGRADE = {UP_TO_DATE: OUT_OF_DATE, 'SWHardeningNeeded': OUT_OF_DATE,
              'ConfigurationNeeded': 'OutOfDateConfigurationNeeded',
              'ConfigurationAndSWHardeningNeeded':
                  'OutOfDateConfigurationNeeded'}
_WS = re.compile(r'[ \t\n\r]*')


class Window(typing.NamedTuple):
    """The validity period of one certificate, CRL or collateral document."""

    what: str
    start: datetime.datetime
    end: typing.Optional[datetime.datetime]

    def problem(self, at: datetime.datetime) -> typing.Optional[str]:
        """Why ``at`` is outside the window, or None."""
        if at < self.start:
            return '%s not yet valid at %s' % (self.what, _iso(at))
        if self.end is not None and at > self.end:
            return '%s expired at %s' % (self.what, _iso(at))
        return None


def cert_window(cert: x509.Certificate) -> Window:
    """The validity window of a certificate."""
    return Window(x509util.common_name(cert), cert.not_valid_before_utc,
                  cert.not_valid_after_utc)


class Appraisal(typing.NamedTuple):
    """What the collateral says about a quote."""

    reasons: typing.Tuple[str, ...]
    tcb_status: typing.Optional[str]
    windows: typing.Tuple[Window, ...]


def read(source, fmspc: bytes) -> typing.Optional[typing.Tuple[
        typing.Optional[bytes], ...]]:
    """The seven collateral files (None for a missing one).

    From their plain names, else from the cache of the platform ``fmspc``
    (see the module docstring). None when none of them is present.
    """
    for prefix in ('', 'tdx/v4/%s/' % fmspc.hex()):
        files = tuple(source.read(prefix + name) for name in FILES)
        if any(f is not None for f in files):
            return files
    return None


def appraise(files: typing.Tuple[typing.Optional[bytes], ...],
             q: abi.Quote, trust: verify.TrustStore) -> Appraisal:
    """Check the collateral against a quote whose chain verified.

    Cached by content: a platform's collateral is checked once, whatever
    the number of its quotes.
    """
    missing = [name for name, data in zip(FILES, files) if data is None]
    if missing:
        return Appraisal(('incomplete collateral, missing: %s'
                          % ', '.join(missing),), None, ())
    return _appraise(files, q.report.tee_tcb_svn, q.report.mr_signer_seam,
                     q.report.seam_attributes, q.qe_report.raw,
                     q.pck_chain, trust)


@functools.lru_cache(maxsize=64)
def _appraise(files: typing.Tuple[bytes, ...], tee_tcb_svn: bytes,
              mr_signer_seam: bytes, seam_attributes: bytes,
              qe_report_raw: bytes, pck_chain: bytes,
              trust: verify.TrustStore) -> Appraisal:
    chain = pck.chain(pck_chain)
    qe_report = abi.qe_report(qe_report_raw)
    (tcb_body, tcb_chain, qe_body, qe_chain, pck_crl_der, pck_crl_chain,
     root_crl_der) = files
    tcb_info, tcb_signed, tcb_sig = signed_json(tcb_body, 'tcbInfo')
    qe_id, qe_signed, qe_sig = signed_json(qe_body, 'enclaveIdentity')
    tcb_signers = pck.certificates(tcb_chain)
    qe_signers = pck.certificates(qe_chain)
    crl_chain = pck.certificates(pck_crl_chain)
    pck_crl = x509util.load_crl(pck_crl_der, 'PCK CRL')
    root_crl = x509util.load_crl(root_crl_der, 'root CA CRL')
    pck_ca, root = chain.issuers[0], chain.issuers[-1]

    reasons = [_signed_by_tcb_signer(tcb_signers, tcb_sig, tcb_signed,
                                     'TCB Info', trust),
               _signed_by_tcb_signer(qe_signers, qe_sig, qe_signed,
                                     'QE Identity', trust),
               verify.chain_problem(crl_chain, trust, 'PCK CRL issuer')]
    if not x509util.crl_signed_by(pck_crl, pck_ca):
        reasons.append('PCK CRL is not signed by the PCK certificate issuer')
    if not x509util.crl_signed_by(root_crl, root):
        reasons.append('root CA CRL is not signed by the root CA')
    for crl, cert in ((pck_crl, chain.leaf), (root_crl, pck_ca),
                      (root_crl, tcb_signers[0]), (root_crl, qe_signers[0])):
        if x509util.is_revoked(crl, cert):
            reasons.append('%s is revoked' % x509util.common_name(cert))
    reasons = tuple(r for r in reasons if r)
    if reasons:
        # Nothing of unverified collateral is read further, dates included.
        return Appraisal(reasons, None, ())
    windows = _windows(tcb_signers + qe_signers + crl_chain,
                       (('PCK CRL', pck_crl), ('root CA CRL', root_crl)),
                       (('TCB Info', tcb_info), ('QE Identity', qe_id)))
    reasons = (_tcb_info_matches(tcb_info, chain.extensions)
               + _qe_identity_matches(qe_id, qe_report)
               + _module_matches(tcb_info, tee_tcb_svn, mr_signer_seam,
                                 seam_attributes))
    if reasons:
        return Appraisal(tuple(reasons), None, windows)
    status = tcb_status(tcb_info, qe_id, chain.extensions, tee_tcb_svn,
                        qe_report.isv_svn)
    return Appraisal((), status, windows)


def signed_json(body: bytes, key: str) -> typing.Tuple[dict, bytes, bytes]:
    """Parse a PCS body: (inner object, its exact bytes, raw signature)."""
    try:
        text = body.decode('utf-8')
        members = _members(text)
    except (ValueError, IndexError, RecursionError):
        raise errors.EvidenceError('%s collateral is not valid JSON'
                                   % key) from None
    if key not in members or 'signature' not in members:
        raise errors.EvidenceError('%s collateral lacks %s or signature'
                                   % (key, key))
    inner, inner_text = members[key]
    signature = members['signature'][0]
    if not isinstance(inner, dict) or not isinstance(signature, str):
        raise errors.EvidenceError('%s collateral is malformed' % key)
    try:
        raw_signature = bytes.fromhex(signature)
    except ValueError:
        raise errors.EvidenceError('%s signature is not hex' % key) from None
    return inner, inner_text.encode('utf-8'), raw_signature


def next_update(body: bytes, key: str) -> datetime.datetime:
    """The ``nextUpdate`` of a PCS TCB Info or QE Identity body.

    ``key`` is ``tcbInfo`` or ``enclaveIdentity``. Raises
    :class:`errors.EvidenceError` when the body cannot be read.
    """
    return _date(signed_json(body, key)[0], 'nextUpdate', key)


def _members(text: str) -> typing.Dict[str, typing.Tuple[object, str]]:
    """Top-level members of a JSON object: {key: (value, exact text)}."""
    decoder = json.JSONDecoder(object_pairs_hook=_unique)
    pos = _WS.match(text).end()
    if text[pos] != '{':
        raise ValueError('not an object')
    pos = _WS.match(text, pos + 1).end()
    members = {}
    while text[pos] != '}':
        name, pos = decoder.raw_decode(text, pos)
        pos = _WS.match(text, pos).end()
        if not isinstance(name, str) or name in members or text[pos] != ':':
            raise ValueError('bad member')
        start = _WS.match(text, pos + 1).end()
        value, pos = decoder.raw_decode(text, start)
        members[name] = (value, text[start:pos])
        pos = _WS.match(text, pos).end()
        if text[pos] == ',':
            pos = _WS.match(text, pos + 1).end()
        elif text[pos] != '}':
            raise ValueError('bad separator')
    if _WS.match(text, pos + 1).end() != len(text):
        raise ValueError('trailing data')
    return members


def _unique(pairs: list) -> dict:
    result = dict(pairs)
    if len(result) != len(pairs):
        raise ValueError('duplicate key')
    return result


def _signed_by_tcb_signer(signers: typing.Sequence[x509.Certificate],
                          signature: bytes, data: bytes, what: str,
                          trust: verify.TrustStore) -> typing.Optional[str]:
    problem = (verify.chain_problem(signers, trust, what + ' signing')
               or verify.end_entity_problem(signers[0], what + ' signing'))
    if problem:
        return problem
    if x509util.common_name(signers[0]) != TCB_SIGNER_CN:
        return '%s is not signed by an %s certificate' % (what,
                                                          TCB_SIGNER_CN)
    if not verify.ecdsa_p256(signers[0].public_key(), signature, data):
        return '%s signature does not verify' % what
    return None


def _windows(certs, crls, documents) -> typing.Tuple[Window, ...]:
    windows = []
    for cert in certs:
        window = cert_window(cert)
        if window not in windows:
            windows.append(window)
    windows += [Window(what, crl.last_update_utc, crl.next_update_utc)
                for what, crl in crls]
    windows += [Window(what, _date(doc, 'issueDate', what),
                       _date(doc, 'nextUpdate', what))
                for what, doc in documents]
    return tuple(windows)


def _tcb_info_matches(tcb_info: dict,
                      ext: pck.PckExtensions) -> typing.List[str]:
    reasons = []
    if _get(tcb_info, 'id', str, 'TCB Info') != 'TDX' or _get(
            tcb_info, 'version', int, 'TCB Info') != 3:
        reasons.append('TCB Info is not TDX TCB Info version 3')
    if not hmac.compare_digest(_hex(tcb_info, 'fmspc', 6, 'TCB Info'),
                               ext.fmspc):
        reasons.append('TCB Info is for another FMSPC')
    if not hmac.compare_digest(_hex(tcb_info, 'pceId', 2, 'TCB Info'),
                               ext.pce_id):
        reasons.append('TCB Info is for another PCE ID')
    return reasons


def _qe_identity_matches(qe_id: dict,
                         report: abi.QeReport) -> typing.List[str]:
    what = 'QE Identity'
    if _get(qe_id, 'id', str, what) != 'TD_QE' or _get(
            qe_id, 'version', int, what) != 2:
        return ['QE Identity is not TD_QE identity version 2']
    misc = int.from_bytes(_hex(qe_id, 'miscselect', 4, what), 'big')
    misc_mask = int.from_bytes(_hex(qe_id, 'miscselectMask', 4, what), 'big')
    reasons = []
    if not hmac.compare_digest(_hex(qe_id, 'mrsigner', 32, what),
                               report.mr_signer):
        reasons.append('QE MRSIGNER does not match the QE Identity')
    if _get(qe_id, 'isvprodid', int, what) != report.isv_prod_id:
        reasons.append('QE ISVPRODID does not match the QE Identity')
    if report.misc_select & misc_mask != misc:
        reasons.append('QE MISCSELECT does not match the QE Identity')
    if not _masked_equal(report.attributes,
                         _hex(qe_id, 'attributesMask', 16, what),
                         _hex(qe_id, 'attributes', 16, what)):
        reasons.append('QE ATTRIBUTES do not match the QE Identity')
    return reasons


def _module_identity(tcb_info: dict,
                     major: int) -> typing.Optional[dict]:
    """``tdxModule`` (major 0) or the ``tdxModuleIdentities`` TDX_<major>."""
    if major == 0:
        return _get(tcb_info, 'tdxModule', dict, 'TCB Info')
    wanted = 'TDX_%02X' % major
    identities = tcb_info.get('tdxModuleIdentities', [])
    if not isinstance(identities, list):
        raise errors.EvidenceError(
            'TCB Info: tdxModuleIdentities is not a list')
    for identity in identities:
        if _get(identity, 'id', str, 'TDX module identity').upper() == wanted:
            return identity
    return None


def _module_matches(tcb_info: dict, tee_tcb_svn: bytes,
                    mr_signer_seam: bytes,
                    seam_attributes: bytes) -> typing.List[str]:
    what = 'TDX module identity'
    identity = _module_identity(tcb_info, tee_tcb_svn[1])
    if identity is None:
        return ['TCB Info has no identity for TDX module major version %d'
                % tee_tcb_svn[1]]
    reasons = []
    if not hmac.compare_digest(_hex(identity, 'mrsigner', 48, what),
                               mr_signer_seam):
        reasons.append('MRSIGNERSEAM does not match the TDX module identity')
    if any(seam_attributes) or not _masked_equal(
            seam_attributes, _hex(identity, 'attributesMask', 8, what),
            _hex(identity, 'attributes', 8, what)):
        # Intel's QVL requires SEAMATTRIBUTES to be zero whatever the mask.
        reasons.append('SEAMATTRIBUTES do not match the TDX module identity')
    return reasons


def _masked_equal(value: bytes, mask: bytes, expected: bytes) -> bool:
    masked = bytes(v & m for v, m in zip(value, mask))
    return hmac.compare_digest(masked, expected)


class TcbLevel(typing.NamedTuple):
    """One TCB Info TCB level."""

    sgx: typing.Tuple[int, ...]
    pce_svn: int
    tdx: typing.Tuple[int, ...]
    status: str


def tcb_status(tcb_info: dict, qe_id: dict, ext: pck.PckExtensions,
               tee_tcb_svn: bytes, qe_isv_svn: int) -> str:
    """Intel's TCB status of the platform, TDX module and QE together."""
    status = _platform_status(_tcb_levels(tcb_info), ext, tee_tcb_svn)
    if status is None:
        return NO_MATCH
    major = tee_tcb_svn[1]
    if major:
        module = _identity_status(_module_identity(tcb_info, major),
                                  tee_tcb_svn[0], 'TDX module identity')
        if module is None:
            return NO_MATCH
        status = _converge(status, module)
        if status == REVOKED:
            return status
    qe_status = _identity_status(qe_id, qe_isv_svn, 'QE Identity')
    if qe_status is None:
        return NO_MATCH
    return _converge(status, qe_status)


def _platform_status(levels: typing.List[TcbLevel], ext: pck.PckExtensions,
                     tee_tcb_svn: bytes) -> typing.Optional[str]:
    first_tdx = 2 if tee_tcb_svn[1] else 0
    ordered = sorted(levels, key=lambda lv: (lv.sgx, lv.pce_svn, lv.tdx),
                     reverse=True)
    for level in ordered:
        if (ext.pce_svn >= level.pce_svn
                and all(p >= t for p, t in zip(ext.sgx_tcb, level.sgx))
                and all(tee_tcb_svn[i] >= level.tdx[i]
                        for i in range(first_tdx, 16))):
            return level.status
    return None


def _identity_status(identity: dict, isv_svn: int,
                     what: str) -> typing.Optional[str]:
    levels = []
    for level in _get(identity, 'tcbLevels', list, what):
        tcb = _get(level, 'tcb', dict, what)
        levels.append((_get(tcb, 'isvsvn', int, what),
                       _status(level, _IDENTITY_STATUSES, what)))
    for level_svn, status in sorted(levels, key=lambda lv: -lv[0]):
        if isv_svn >= level_svn:
            return status
    return None


def _converge(status: str, component: str) -> str:
    if component == REVOKED:
        return REVOKED
    if component == OUT_OF_DATE:
        return _DOWNGRADE.get(status, status)
    return status


def _tcb_levels(tcb_info: dict) -> typing.List[TcbLevel]:
    what = 'TCB Info level'
    levels = []
    for level in _get(tcb_info, 'tcbLevels', list, 'TCB Info'):
        tcb = _get(level, 'tcb', dict, what)
        levels.append(TcbLevel(
            _components(tcb, 'sgxtcbcomponents'),
            _get(tcb, 'pcesvn', int, what),
            _components(tcb, 'tdxtcbcomponents'),
            _status(level, TCB_STATUSES, what)))
    return levels


def _components(tcb: dict, key: str) -> typing.Tuple[int, ...]:
    components = _get(tcb, key, list, 'TCB Info level')
    if len(components) != 16:
        raise errors.EvidenceError('TCB Info level %s has %d entries, not 16'
                                   % (key, len(components)))
    return tuple(_get(c, 'svn', int, 'TCB Info ' + key) for c in components)


def _status(level: dict, allowed: frozenset, what: str) -> str:
    status = _get(level, 'tcbStatus', str, what)
    if status not in allowed:
        raise errors.EvidenceError('%s has unknown tcbStatus %r'
                                   % (what, status[:40]))
    return status


def _get(obj, key: str, kind: type, what: str):
    value = obj.get(key) if isinstance(obj, dict) else None
    if not isinstance(value, kind) or (kind is int
                                       and isinstance(value, bool)):
        raise errors.EvidenceError('%s: %s is missing or not a %s'
                                   % (what, key, kind.__name__))
    return value


def _hex(obj: dict, key: str, size: int, what: str) -> bytes:
    try:
        value = bytes.fromhex(_get(obj, key, str, what))
    except ValueError:
        value = b''
    if len(value) != size:
        raise errors.EvidenceError('%s: %s is not %d bytes of hex'
                                   % (what, key, size))
    return value


def _date(doc: dict, key: str, what: str) -> datetime.datetime:
    try:
        value = datetime.datetime.fromisoformat(
            _get(doc, key, str, what).replace('Z', '+00:00'))
        if value.tzinfo is None:
            raise errors.EvidenceError('%s: %s has no time zone'
                                       % (what, key))
        return value.astimezone(datetime.timezone.utc)
    except (ValueError, OverflowError):
        raise errors.EvidenceError('%s: %s is not a date' % (what, key)) \
            from None


def _iso(at: datetime.datetime) -> str:
    return at.strftime('%Y-%m-%dT%H:%M:%SZ')
