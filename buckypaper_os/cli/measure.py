"""``buckypaper-measure``: expected launch measurements, for reference values.

``buckypaper-measure sev-snp --firmware FILE --vcpus N --cpu-model MODEL
[--kernel FILE [--initrd FILE] [--append CMDLINE]] [--guest-policy POLICY]
[--guest-features FEATURES] [--vmm-type qemu|ec2|gce]`` prints the SEV-SNP
launch digest (the report's MEASUREMENT) in hex.

``buckypaper-measure tdx --firmware FILE [--page-add-order ORDER]`` prints
the MRTD of a TD built from a TDVF image.

``-f json`` prints a JSON object with the inputs instead. Exit 0 on
success, 2 for unusable input (one line on stderr, no traceback).
"""

import argparse
import json
import sys
import typing

from buckypaper_os.attestation.firmware import FirmwareError
from buckypaper_os.attestation.snp import kernel_hashes
from buckypaper_os.attestation.snp import measure as snp_measure
from buckypaper_os.attestation.snp import vmsa
from buckypaper_os.attestation.tdx import measure as tdx_measure

EXIT_OK = 0
EXIT_UNUSABLE = 2

#: SNP guest policy bits: bit 17 is reserved, must be 1; bit 19 is DEBUG.
_POLICY_RESERVED_ONE = 1 << 17
_POLICY_DEBUG = 1 << 19


class _Parser(argparse.ArgumentParser):
    """An argument parser that reports usage errors with exit code 2."""

    def error(self, message: str) -> typing.NoReturn:
        self.exit(EXIT_UNUSABLE, '%s: error: %s\n' % (self.prog, message))


def _int(value: str) -> int:
    try:
        return int(value, 0)
    except ValueError:
        raise argparse.ArgumentTypeError(
            'not an integer: %r' % value) from None


def build_parser() -> argparse.ArgumentParser:
    """The command-line grammar."""
    parser = _Parser(prog='buckypaper-measure',
                     description='Print the expected launch measurement of '
                                 'a confidential guest.')
    parser.add_argument('-f', '--format', choices=('hex', 'json'),
                        default='hex', help='output format (default: hex)')
    commands = parser.add_subparsers(dest='command', required=True,
                                     parser_class=_Parser)
    # -f also after the subcommand, without overriding one given before.
    output = argparse.ArgumentParser(add_help=False)
    output.add_argument('-f', '--format', choices=('hex', 'json'),
                        default=argparse.SUPPRESS)
    snp = commands.add_parser('sev-snp', help='SEV-SNP launch digest',
                              parents=[output])
    snp.add_argument('--firmware', required=True, metavar='FILE',
                     help='OVMF image with SEV-SNP metadata')
    snp.add_argument('--vcpus', required=True, type=_int, metavar='N')
    snp.add_argument('--cpu-model', required=True, metavar='MODEL',
                     choices=sorted(vmsa.CPU_MODELS),
                     help='QEMU CPU model, e.g. EPYC-v4, EPYC-Milan')
    snp.add_argument('--kernel', metavar='FILE',
                     help='directly booted kernel (QEMU kernel-hashes=on)')
    snp.add_argument('--initrd', metavar='FILE')
    snp.add_argument('--append', metavar='CMDLINE',
                     help='kernel command line')
    snp.add_argument('--guest-policy', type=_int, default=0x30000,
                     metavar='POLICY',
                     help='SNP guest policy, checked and reported; it is '
                          'not part of the digest (default: 0x30000)')
    snp.add_argument('--guest-features', type=_int,
                     default=snp_measure.DEFAULT_GUEST_FEATURES,
                     metavar='FEATURES',
                     help='VMSA SEV_FEATURES (default: 0x1, SNPActive)')
    snp.add_argument('--vmm-type', default='qemu',
                     choices=[v.value for v in vmsa.VmmType])
    tdx = commands.add_parser('tdx', help='TDX MRTD', parents=[output])
    tdx.add_argument('--firmware', required=True, metavar='FILE',
                     help='TDVF image')
    tdx.add_argument('--page-add-order', default=tdx_measure.SINGLE_PASS,
                     choices=(tdx_measure.SINGLE_PASS, tdx_measure.TWO_PASS),
                     help='how KVM adds the pages (default: %(default)s, '
                          'upstream KVM)')
    return parser


def _sev_snp(args) -> dict:
    policy = args.guest_policy
    if not 0 <= policy < 1 << 64 or not policy & _POLICY_RESERVED_ONE:
        raise FirmwareError('guest policy %#x is invalid (bit 17 must be '
                            'set)' % policy)
    if policy & _POLICY_DEBUG:
        raise FirmwareError('guest policy %#x allows debugging' % policy)
    if (args.initrd or args.append is not None) and not args.kernel:
        raise FirmwareError('--initrd and --append need --kernel')
    hashes = None
    if args.kernel:
        try:
            hashes = kernel_hashes.KernelHashes.from_files(
                args.kernel, args.initrd, args.append)
        except OSError as exc:
            raise FirmwareError('cannot read %s: %s' % (
                exc.filename, exc.strerror or exc)) from None
    digest = snp_measure.launch_digest(
        args.firmware, args.vcpus, cpu_model=args.cpu_model,
        guest_features=args.guest_features, kernel_hashes=hashes,
        vmm=args.vmm_type)
    return {
        'tee': 'sev-snp', 'measurement': digest.hex(),
        'firmware': args.firmware, 'vcpus': args.vcpus,
        'cpu_model': args.cpu_model, 'vmm_type': args.vmm_type,
        'guest_policy': '%#x' % policy,
        'guest_features': '%#x' % args.guest_features,
        'kernel_hashes': None if hashes is None else {
            'kernel': hashes.kernel.hex(), 'initrd': hashes.initrd.hex(),
            'cmdline': hashes.cmdline.hex()},
    }


def _tdx(args) -> dict:
    digest = tdx_measure.mrtd(args.firmware, args.page_add_order)
    return {'tee': 'tdx', 'mrtd': digest.hex(), 'firmware': args.firmware,
            'page_add_order': args.page_add_order}


def compute(args: argparse.Namespace) -> dict:
    """The expected measurement of parsed arguments, with its inputs.

    ``args`` come from :func:`build_parser`. Raises
    :class:`FirmwareError` for unusable input.
    """
    if args.command == 'sev-snp':
        return _sev_snp(args)
    return _tdx(args)


def main(argv: typing.Sequence[str] = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        result = compute(args)
    except FirmwareError as exc:
        sys.stderr.write('buckypaper-measure: %s\n'
                         % str(exc).replace('\n', ' '))
        return EXIT_UNUSABLE
    if args.format == 'json':
        print(json.dumps(result, indent=2, sort_keys=True))
    else:
        print(result['measurement' if args.command == 'sev-snp'
                     else 'mrtd'])
    return EXIT_OK


if __name__ == '__main__':
    sys.exit(main())
