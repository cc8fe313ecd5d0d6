"""Flavor extra specs of the ``buckypaper:`` namespace and their checks.

:func:`register` is Nova's ``nova.api.extra_spec_validators`` entry point:
once buckypaper-os is installed in nova-api's environment, the API refuses
(HTTP 400) unknown ``buckypaper:`` keys and invalid values when a flavor's
extra specs are set (microversion 2.86 or later). Nova validates each key
on its own and offers no hook that sees a flavor's keys together, neither
there nor at server create, so the combinations (e.g. a TDX option on an
SNP flavor, any key without ``hw:mem_encryption_model``) are checked by
:func:`check_flavor`, which the driver runs before it builds a guest: such
a boot fails without launching anything (doc/nova-driver.md).

=================================  ========================================
``buckypaper:attestation``         ``required`` (default) or ``disabled``
``buckypaper:firmware``            name of a firmware catalog entry
``buckypaper:snp_smt``             bool, default true
``buckypaper:snp_single_socket``   bool, default false
``buckypaper:snp_ciphertext_hiding``  bool, default false
``buckypaper:snp_min_abi``         ``major.minor``, e.g. ``1.55``
``buckypaper:snp_id_block``        bool: sign an ID block with the ID key
``buckypaper:min_tcb``             ``name=svn,...``, e.g. ``bl=3,snp=22``
``buckypaper:tdx_sept_ve_disable``  bool, default true
``buckypaper:disk_key``            ``generate``: create the disk key
``buckypaper:disk_key_on_delete``  ``delete`` (default) or ``keep``
=================================  ========================================

The same keys may be set as image properties (``buckypaper:firmware`` on
a Glance image); :func:`merge_image_properties` combines them with the
flavor's. Guests are never launched with debugging allowed; there is no
key for it.
"""

import dataclasses
import re

from nova.api.validation.extra_specs import base
from nova import exception
from oslo_utils import strutils

from buckypaper_os import binding
from buckypaper_os import flavor_specs

PREFIX = flavor_specs.PREFIX
ATTESTATION = flavor_specs.ATTESTATION
FIRMWARE = PREFIX + 'firmware'
SNP_SMT = PREFIX + 'snp_smt'
SNP_SINGLE_SOCKET = PREFIX + 'snp_single_socket'
SNP_CIPHERTEXT_HIDING = PREFIX + 'snp_ciphertext_hiding'
SNP_MIN_ABI = PREFIX + 'snp_min_abi'
SNP_ID_BLOCK = PREFIX + 'snp_id_block'
MIN_TCB = PREFIX + 'min_tcb'
TDX_SEPT_VE_DISABLE = PREFIX + 'tdx_sept_ve_disable'
DISK_KEY = flavor_specs.DISK_KEY
DISK_KEY_ON_DELETE = flavor_specs.DISK_KEY_ON_DELETE

SNP_KEYS = (SNP_SMT, SNP_SINGLE_SOCKET, SNP_CIPHERTEXT_HIDING, SNP_MIN_ABI,
            SNP_ID_BLOCK)
TDX_KEYS = (TDX_SEPT_VE_DISABLE,)

#: TCB components an SNP minimum TCB may name (attestation.Policy.min_tcb).
SNP_TCB_COMPONENTS = ('bl', 'tee', 'snp', 'ucode', 'fmc')
_TDX_TCB_COMPONENT = re.compile(r'tee_tcb_svn_([0-9]|1[0-5])')

MODEL_KEY = 'hw:mem_encryption_model'
MODEL_TEE = {'amd-sev-snp': binding.SNP, 'intel-tdx': binding.TDX}


def _fail(message, *args):
    raise exception.ValidationError(
        'Validation failed; ' + (message % args if args else message))


def parse_min_abi(value):
    """(major, minor) of ``"major.minor"``; ValidationError if invalid."""
    match = re.fullmatch(r'(\d{1,3})\.(\d{1,3})', value or '')
    if not match or max(int(match[1]), int(match[2])) > 255:
        _fail("'%s' is not an SNP ABI version major.minor with both parts "
              "0..255, e.g. '1.55'.", value)
    return int(match[1]), int(match[2])


def parse_min_tcb(value):
    """{component: svn} of ``"name=svn,..."``; ValidationError if invalid.

    Components are SNP's bl, tee, snp, ucode, fmc or TDX's
    tee_tcb_svn_0..15, not both; SVNs are 0..255.
    """
    result = {}
    for item in (value or '').split(','):
        name, sep, svn = item.strip().partition('=')
        if not sep or not re.fullmatch(r'\d{1,3}', svn.strip()):
            _fail("'%s' is not a list of component=svn pairs, e.g. "
                  "'bl=3,snp=22,ucode=213'.", value)
        name = name.strip()
        if (name not in SNP_TCB_COMPONENTS
                and not _TDX_TCB_COMPONENT.fullmatch(name)):
            _fail("unknown TCB component '%s'; expected one of %s or "
                  "tee_tcb_svn_0..15.", name, ', '.join(SNP_TCB_COMPONENTS))
        if name in result:
            _fail("TCB component '%s' is given twice.", name)
        if int(svn) > 255:
            _fail("SVN %s of '%s' is greater than 255.", svn.strip(), name)
        result[name] = int(svn)
    if len({bool(_TDX_TCB_COMPONENT.fullmatch(n)) for n in result}) > 1:
        _fail("'%s' mixes SEV-SNP and TDX TCB components; a guest is "
              "one or the other.", value)
    return result


@dataclasses.dataclass
class _CheckedValidator(base.ExtraSpecValidator):
    """A validator that also runs ``check(value)`` on string values."""

    check: object = None

    def validate(self, name, value):
        super().validate(name, value)
        if self.check is not None:
            self.check(value)


def _bool(name, description):
    return base.ExtraSpecValidator(
        name=name, description=description,
        value={'type': bool, 'description': description})


EXTRA_SPEC_VALIDATORS = [
    base.ExtraSpecValidator(
        name=ATTESTATION,
        description=(
            'Whether the confidential guest is registered with the Nitride '
            'verifier at launch (default required). A guest that is not '
            'registered can never attest nor receive keys. Only for '
            'hw:mem_encryption_model amd-sev-snp or intel-tdx.'),
        value={'type': str, 'enum': list(flavor_specs.ATTESTATION_VALUES),
               'description': 'required or disabled'},
    ),
    base.ExtraSpecValidator(
        name=FIRMWARE,
        description=(
            'Name of the measured stateless firmware in the operator\'s '
            'catalog ([buckypaper_compute] firmware_catalog).'),
        value={'type': str, 'pattern': r'[A-Za-z0-9][A-Za-z0-9._-]{0,63}',
               'description': 'a catalog name'},
    ),
    _bool(SNP_SMT, 'SEV-SNP: allow simultaneous multithreading on the '
                   'host (policy bit 16, default true).'),
    _bool(SNP_SINGLE_SOCKET, 'SEV-SNP: the guest may run on one socket '
                             'only (policy bit 20, default false).'),
    _bool(SNP_CIPHERTEXT_HIDING, 'SEV-SNP: require ciphertext hiding for '
                                 'DRAM (policy bit 24, default false).'),
    _CheckedValidator(
        name=SNP_MIN_ABI,
        description='SEV-SNP: minimum firmware ABI version (policy bits '
                    '0-15), e.g. 1.55.',
        value={'type': str, 'description': 'major.minor'},
        check=parse_min_abi,
    ),
    _bool(SNP_ID_BLOCK, 'SEV-SNP: launch with an ID block signed by the '
                        'operator\'s ID key over the expected measurement, '
                        'so the AMD SP refuses any other launch.'),
    _CheckedValidator(
        name=MIN_TCB,
        description='Minimum TCB SVN per component that Nitride requires '
                    'of this guest\'s evidence, e.g. bl=3,snp=22,ucode=213 '
                    '(SEV-SNP) or tee_tcb_svn_0=5 (TDX).',
        value={'type': str, 'description': 'component=svn,...'},
        check=parse_min_tcb,
    ),
    _bool(TDX_SEPT_VE_DISABLE, 'TDX: set the SEPT_VE_DISABLE TD attribute '
                               '(default true).'),
    base.ExtraSpecValidator(
        name=DISK_KEY,
        description=(
            'generate: at spawn the driver creates the guest\'s disk key '
            'in Barbican with the user\'s token, bound to the instance '
            '(released only to it, attested), and gives its reference '
            'and Nitride\'s guest API URL to the guest in its metadata. '
            'Needs buckypaper:attestation=required.'),
        value={'type': str, 'enum': list(flavor_specs.DISK_KEY_VALUES),
               'description': 'generate'},
    ),
    base.ExtraSpecValidator(
        name=DISK_KEY_ON_DELETE,
        description=(
            'What happens to a generated disk key when the server is '
            'deleted: delete (default) or keep. Needs '
            'buckypaper:disk_key=generate.'),
        value={'type': str,
               'enum': list(flavor_specs.DISK_KEY_ON_DELETE_VALUES),
               'description': 'delete or keep'},
    ),
]


def register():
    """Entry point of ``nova.api.extra_spec_validators``."""
    return EXTRA_SPEC_VALIDATORS


#: How Nova keeps an image's properties in the instance's system_metadata.
IMAGE_PREFIX = 'image_'


def merge_image_properties(extra_specs, system_metadata):
    """Flavor extra specs plus the image's ``buckypaper:`` properties.

    Image properties are not validated by Nova's API (Glance does not know
    them); :func:`check_flavor` validates the merged keys. A key set by
    both to different values is refused, as Nova does for ``hw:``.
    """
    merged = dict(extra_specs or {})
    for key, value in (system_metadata or {}).items():
        if not key.startswith(IMAGE_PREFIX + PREFIX):
            continue
        name = key[len(IMAGE_PREFIX):]
        if name in merged and merged[name] != value:
            _fail("the flavor sets %s='%s' and the image '%s'.", name,
                  merged[name], value)
        merged[name] = value
    return merged


def _flag(extra_specs, key, default):
    value = extra_specs.get(key)
    if value is None:
        return default
    return strutils.bool_from_string(value, strict=True)


@dataclasses.dataclass
class LaunchOptions:
    """What a flavor asks of a confidential guest, checked."""

    tee: str
    attestation: bool = True
    firmware: str = None
    snp_smt: bool = True
    snp_single_socket: bool = False
    snp_ciphertext_hiding: bool = False
    snp_min_abi: tuple = None
    snp_id_block: bool = False
    min_tcb: dict = dataclasses.field(default_factory=dict)
    tdx_sept_ve_disable: bool = True
    disk_key: bool = False
    disk_key_on_delete: str = 'delete'


def check_flavor(extra_specs, model):
    """The launch options of a flavor for memory encryption ``model``.

    Every ``buckypaper:`` key is validated again (flavors may predate the
    validators) and their combination is checked: SNP keys need
    ``amd-sev-snp``, TDX keys ``intel-tdx``, and any key needs one of them.
    Returns None for a guest that is not SNP or TDX and has no
    ``buckypaper:`` key; raises ValidationError otherwise.
    """
    ours = {k: v for k, v in (extra_specs or {}).items()
            if k.startswith(PREFIX)}
    tee = MODEL_TEE.get(model)
    if tee is None:
        if ours:
            _fail('%s need %s amd-sev-snp or intel-tdx, not %s.',
                  ', '.join(sorted(ours)), MODEL_KEY, model or 'none')
        return None
    known = {v.name: v for v in EXTRA_SPEC_VALIDATORS}
    for key, value in sorted(ours.items()):
        if key not in known:
            _fail("extra spec '%s' is not a buckypaper extra spec.", key)
        known[key].validate(key, value)
    wrong = [k for k in ours
             if k in (TDX_KEYS if tee == binding.SNP else SNP_KEYS)]
    if wrong:
        _fail('%s cannot be used with %s %s.', ', '.join(sorted(wrong)),
              MODEL_KEY, model)
    min_tcb = parse_min_tcb(ours[MIN_TCB]) if MIN_TCB in ours else {}
    snp = tee == binding.SNP
    foreign = [n for n in min_tcb
               if bool(_TDX_TCB_COMPONENT.fullmatch(n)) == snp]
    if foreign:
        _fail('%s names %s, a TCB component of another TEE than %s %s.',
              MIN_TCB, ', '.join(sorted(foreign)), MODEL_KEY, model)
    options = LaunchOptions(
        tee=tee,
        attestation=ours.get(ATTESTATION, 'required') == 'required',
        firmware=ours.get(FIRMWARE),
        min_tcb=min_tcb,
        disk_key=ours.get(DISK_KEY) == flavor_specs.GENERATE,
        disk_key_on_delete=ours.get(DISK_KEY_ON_DELETE, 'delete'))
    problem = flavor_specs.disk_key_problem(ours)
    if problem:
        _fail(problem)
    if tee == binding.SNP:
        options.snp_smt = _flag(ours, SNP_SMT, True)
        options.snp_single_socket = _flag(ours, SNP_SINGLE_SOCKET, False)
        options.snp_ciphertext_hiding = _flag(ours, SNP_CIPHERTEXT_HIDING,
                                              False)
        options.snp_id_block = _flag(ours, SNP_ID_BLOCK, False)
        if SNP_MIN_ABI in ours:
            options.snp_min_abi = parse_min_abi(ours[SNP_MIN_ABI])
        if options.snp_id_block and not options.attestation:
            _fail('%s needs %s=required: the ID block signs the '
                  'measurement registered with Nitride.', SNP_ID_BLOCK,
                  ATTESTATION)
    else:
        options.tdx_sept_ve_disable = _flag(ours, TDX_SEPT_VE_DISABLE, True)
    return options
