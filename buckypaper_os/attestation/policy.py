"""Appraisal policy: what a verified piece of evidence must also show.

A policy is a small JSON document; every key is optional and the defaults
are the safe ones (no debug guests, no SNP migration agent, stale
collateral refused, TDX TCB graded by Intel's status). Example::

    {
      "allow_debug": false,
      "min_tcb": {"bl": 3, "snp": 8, "ucode": 115},
      "measurements": ["7a1e5c26..."],
      "host_data": "00...",
      "vmpl": 0,
      "snp_policy_set": "0x30000",
      "tcb_status_warn": ["SWHardeningNeeded", "OutOfDate"]
    }

Keys that do not apply to a TEE are ignored for that TEE.
"""

import dataclasses
import json
import re
import typing

from buckypaper_os.attestation import errors

#: Intel TCB statuses that leave a genuine TDX platform in the warning tier
#: by default; anything else but UpToDate is contraindicated.
DEFAULT_TCB_STATUS_WARN = (
    'SWHardeningNeeded', 'ConfigurationNeeded',
    'ConfigurationAndSWHardeningNeeded', 'OutOfDate',
    'OutOfDateConfigurationNeeded')


@dataclasses.dataclass(frozen=True)
class Policy:
    """Expectations checked by each TEE's ``validate`` module.

    Byte-string expectations are lowercase hex, as in the claims.
    """

    #: Accept guests launched with debugging enabled (SNP policy bit 19,
    #: TDX TD_ATTRIBUTES.DEBUG). Never true in production.
    allow_debug: bool = False
    #: Accept SEV-SNP guests whose policy allows a migration agent (bit 18
    #: MIGRATE_MA) and migratable TDs (TD_ATTRIBUTES.MIGRATABLE, bit 29),
    #: whose memory a migration agent or TD could export.
    allow_migration_agent: bool = False
    #: Refuse certificates, CRLs and collateral outside their validity.
    check_validity: bool = True
    #: Minimum SVN per TCB component. SNP: bl, tee, snp, ucode, fmc; TDX:
    #: tee_tcb_svn_<i> for byte i of TEE_TCB_SVN.
    min_tcb: typing.Mapping[str, int] = dataclasses.field(
        default_factory=dict)
    #: Allowed launch measurements (SNP MEASUREMENT, TDX MRTD); empty = any.
    measurements: typing.Tuple[str, ...] = ()
    #: Allowed values per RTMR index, e.g. {"0": ["ab.."]}; TDX only.
    rtmrs: typing.Mapping[str, typing.Tuple[str, ...]] = dataclasses.field(
        default_factory=dict)
    report_data: typing.Optional[str] = None
    host_data: typing.Optional[str] = None
    mr_config_id: typing.Optional[str] = None
    mr_owner: typing.Optional[str] = None
    #: Required SNP VMPL of the reporting software (0 = most privileged).
    vmpl: typing.Optional[int] = None
    #: SNP guest policy bits that must be set, and bits that must be clear.
    snp_policy_set: int = 0
    snp_policy_clear: int = 0
    #: Minimum SNP ABI major.minor the guest policy may allow, e.g. "1.51".
    snp_min_abi: typing.Optional[str] = None
    #: TDX: require TD_ATTRIBUTES.SEPT_VE_DISABLE (bit 28).
    require_sept_ve_disable: bool = False
    #: TDX: refuse quotes that come without collateral (TCB unknown).
    require_collateral: bool = True
    #: SEV-SNP: refuse reports whose certificates were not checked against
    #: an AMD KDS CRL (revocation unknown).
    require_crl: bool = False
    #: TDX TCB statuses graded warning instead of contraindicated.
    tcb_status_warn: typing.Tuple[str, ...] = DEFAULT_TCB_STATUS_WARN

    @classmethod
    def from_dict(cls, data: typing.Mapping) -> 'Policy':
        """Build a policy from its JSON form.

        Unknown keys and values of the wrong type are refused: a string
        ``"false"`` is not a boolean here.
        """
        if not isinstance(data, dict):
            raise errors.EvidenceError('policy must be a JSON object')
        unknown = sorted(set(data) - set(_CONVERT))
        if unknown:
            raise errors.EvidenceError(
                'unknown policy keys: %s' % ', '.join(map(str, unknown)))
        return cls(**{key: _CONVERT[key](key, value)
                      for key, value in data.items()})

    @classmethod
    def from_file(cls, path: str) -> 'Policy':
        """Load a policy from a JSON file."""
        return cls.from_dict(read_document(path))


def read_document(path: str) -> typing.Any:
    """The JSON value in the file ``path`` (a policy document, unchecked).

    :class:`errors.EvidenceError` if the file cannot be read or parsed.
    """
    try:
        with open(path, encoding='utf-8') as f:
            return json.load(f)
    except (OSError, ValueError, RecursionError) as exc:
        raise errors.EvidenceError('cannot read policy %s: %s' % (
            path, ' '.join(str(exc).split())[:120])) from None


def _fail(key: str, what: str) -> typing.NoReturn:
    raise errors.EvidenceError('policy %s: %s' % (key, what))


def _bool(key: str, value) -> bool:
    if not isinstance(value, bool):
        _fail(key, 'must be true or false')
    return value


def _int(key: str, value, maximum: int = 2 ** 64 - 1) -> int:
    """An integer, or a string of one (``"0x30000"``), in 0..maximum."""
    if isinstance(value, str):
        try:
            value = int(value, 0)
        except ValueError:
            _fail(key, '%r is not an integer' % value[:40])
    if isinstance(value, bool) or not isinstance(value, int):
        _fail(key, 'must be an integer')
    if not 0 <= value <= maximum:
        _fail(key, 'must be between 0 and %d' % maximum)
    return value


def _list(key: str, value) -> list:
    if not isinstance(value, list):
        _fail(key, 'must be a list')
    return value


def _object(key: str, value) -> dict:
    if not isinstance(value, dict):
        _fail(key, 'must be an object')
    return value


def _hex(key: str, value, length: int) -> str:
    if not isinstance(value, str):
        _fail(key, 'must be a hex string')
    try:
        raw = bytes.fromhex(value)
    except ValueError:
        _fail(key, 'not hex')
    if len(raw) != length:
        _fail(key, '%d bytes, expected %d' % (len(raw), length))
    return raw.hex()


def _optional(convert: typing.Callable) -> typing.Callable:
    return lambda key, value: None if value is None else convert(key, value)


def _hex_of(length: int) -> typing.Callable:
    return _optional(lambda key, value: _hex(key, value, length))


def _measurements(key: str, value) -> typing.Tuple[str, ...]:
    return tuple(_hex(key, item, 48) for item in _list(key, value))


def _rtmrs(key: str, value) -> dict:
    result = {}
    for index, allowed in _object(key, value).items():
        if str(index) not in ('0', '1', '2', '3'):
            _fail(key, 'RTMR index must be "0" to "3"')
        result[str(index)] = _measurements(key, allowed)
    return result


def _min_tcb(key: str, value) -> dict:
    return {str(name): _int(key, svn, 255)
            for name, svn in _object(key, value).items()}


def _abi(key: str, value) -> str:
    if not isinstance(value, str) or not re.fullmatch(r'\d{1,3}\.\d{1,3}',
                                                      value):
        _fail(key, 'must be "major.minor", e.g. "1.51"')
    if max(int(part) for part in value.split('.')) > 255:
        _fail(key, 'major and minor are at most 255')
    return value


def _statuses(key: str, value) -> typing.Tuple[str, ...]:
    items = _list(key, value)
    if not all(isinstance(item, str) for item in items):
        _fail(key, 'must be a list of strings')
    return tuple(items)


#: How each policy key is read from JSON.
_CONVERT = {
    'allow_debug': _bool,
    'allow_migration_agent': _bool,
    'check_validity': _bool,
    'min_tcb': _min_tcb,
    'measurements': _measurements,
    'rtmrs': _rtmrs,
    'report_data': _hex_of(64),
    'host_data': _hex_of(32),
    'mr_config_id': _hex_of(48),
    'mr_owner': _hex_of(48),
    'vmpl': _optional(lambda key, value: _int(key, value, 3)),
    'snp_policy_set': _int,
    'snp_policy_clear': _int,
    'snp_min_abi': _optional(_abi),
    'require_sept_ve_disable': _bool,
    'require_collateral': _bool,
    'require_crl': _bool,
    'tcb_status_warn': _statuses,
}
