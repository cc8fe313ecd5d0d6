"""Appraisal policy: what a verified piece of evidence must also show.

A policy is a small JSON document; every key is optional and the defaults
are the safe ones (no debug guests, stale collateral refused, TDX TCB
graded by Intel's status). Example::

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
import typing

from buckypaper_os.attestation import errors

#: Intel TCB statuses that leave a genuine TDX platform in the warning tier
#: by default; anything else but UpToDate is contraindicated.
DEFAULT_TCB_STATUS_WARN = (
    'SWHardeningNeeded', 'ConfigurationNeeded',
    'ConfigurationAndSWHardeningNeeded', 'OutOfDate',
    'OutOfDateConfigurationNeeded')

_HEX_LENGTHS = {'report_data': 64, 'host_data': 32, 'mr_config_id': 48,
                'mr_owner': 48}


@dataclasses.dataclass(frozen=True)
class Policy:
    """Expectations checked by each TEE's ``validate`` module.

    Byte-string expectations are lowercase hex, as in the claims.
    """

    #: Accept guests launched with debugging enabled (SNP policy bit 19,
    #: TDX TD_ATTRIBUTES.DEBUG). Never true in production.
    allow_debug: bool = False
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
    #: TDX TCB statuses graded warning instead of contraindicated.
    tcb_status_warn: typing.Tuple[str, ...] = DEFAULT_TCB_STATUS_WARN

    @classmethod
    def from_dict(cls, data: typing.Mapping) -> 'Policy':
        """Build a policy from its JSON form, refusing unknown keys."""
        if not isinstance(data, dict):
            raise errors.EvidenceError('policy must be a JSON object')
        names = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(data) - names)
        if unknown:
            raise errors.EvidenceError(
                'unknown policy keys: %s' % ', '.join(unknown))
        values = dict(data)
        for key in ('snp_policy_set', 'snp_policy_clear'):
            if key in values:
                values[key] = _as_int(key, values[key])
        if 'measurements' in values:
            values['measurements'] = tuple(
                _hex('measurements', v, 48) for v in values['measurements'])
        if 'tcb_status_warn' in values:
            values['tcb_status_warn'] = tuple(
                str(v) for v in values['tcb_status_warn'])
        if 'rtmrs' in values:
            values['rtmrs'] = {str(k): tuple(_hex('rtmrs', x, 48) for x in v)
                               for k, v in dict(values['rtmrs']).items()}
        if 'min_tcb' in values:
            values['min_tcb'] = {str(k): _as_int('min_tcb', v)
                                 for k, v in dict(values['min_tcb']).items()}
        for key, length in _HEX_LENGTHS.items():
            if values.get(key) is not None:
                values[key] = _hex(key, values[key], length)
        return cls(**values)

    @classmethod
    def from_file(cls, path: str) -> 'Policy':
        """Load a policy from a JSON file."""
        try:
            with open(path, encoding='utf-8') as f:
                data = json.load(f)
        except (OSError, ValueError) as exc:
            raise errors.EvidenceError(
                'cannot read policy %s: %s' % (path, exc)) from None
        return cls.from_dict(data)


def _as_int(key: str, value) -> int:
    try:
        return int(value, 0) if isinstance(value, str) else int(value)
    except (TypeError, ValueError):
        raise errors.EvidenceError(
            'policy %s: %r is not an integer' % (key, value)) from None


def _hex(key: str, value, length: typing.Optional[int] = None) -> str:
    try:
        raw = bytes.fromhex(str(value))
    except ValueError:
        raise errors.EvidenceError('policy %s: not hex' % key) from None
    if length is not None and len(raw) != length:
        raise errors.EvidenceError(
            'policy %s: %d bytes, expected %d' % (key, len(raw), length))
    return raw.hex()
