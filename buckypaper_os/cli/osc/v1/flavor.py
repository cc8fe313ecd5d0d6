"""``openstack confidential flavor create``: a confidential Nova flavor.

Sets ``hw:mem_encryption`` and ``hw:mem_encryption_model`` for the TEE and
the ``buckypaper:`` extra specs of ``buckypaper_os.nova_driver.extra_specs``
through python-novaclient. The disk key options that do not go together
(:mod:`buckypaper_os.flavor_specs`) are refused before any call; nova-api
validates every ``buckypaper:`` key (our ``nova.api.extra_spec_validators``
entry point) and answers 400 for a bad one; the flavor is then deleted
again, so no half-made flavor stays.
"""

from novaclient import client as nova_client
from osc_lib.cli import format_columns
from osc_lib.command import command
from osc_lib import exceptions

from buckypaper_os import flavor_specs

#: Nova's microversion for flavor descriptions and extra specs validation.
NOVA_API_VERSION = '2.86'
MODELS = {'sev-snp': 'amd-sev-snp', 'tdx': 'intel-tdx'}
FIELDS = ('id', 'name', 'vcpus', 'ram', 'disk', 'is_public', 'properties')


def nova(app):
    """A novaclient of the osc session (tests replace it)."""
    manager = app.client_manager
    return nova_client.Client(NOVA_API_VERSION, session=manager.session,
                              region_name=manager.region_name,
                              endpoint_type=manager.interface)


#: The specs that make Nova launch a TEE guest; --property cannot change them.
LAUNCH_KEYS = ('hw:mem_encryption', 'hw:mem_encryption_model')


def extra_specs(parsed_args) -> dict:
    """The extra specs of a confidential flavor of ``parsed_args``."""
    tee = parsed_args.tee
    specs = {'hw:mem_encryption': 'True',
             'hw:mem_encryption_model': MODELS[tee],
             flavor_specs.ATTESTATION: parsed_args.attestation}
    optional = {
        'buckypaper:firmware': parsed_args.firmware,
        'buckypaper:min_tcb': parsed_args.min_tcb,
        flavor_specs.DISK_KEY: parsed_args.disk_key,
    }
    if parsed_args.keep_disk_key_on_delete:
        optional[flavor_specs.DISK_KEY_ON_DELETE] = flavor_specs.KEEP
    if tee == 'sev-snp':
        optional.update({
            'buckypaper:snp_min_abi': parsed_args.snp_min_abi,
            'buckypaper:snp_smt': _bool(parsed_args.snp_smt),
            'buckypaper:snp_single_socket': _bool(
                parsed_args.snp_single_socket),
            'buckypaper:snp_ciphertext_hiding': _bool(
                parsed_args.snp_ciphertext_hiding),
            'buckypaper:snp_id_block': _bool(parsed_args.snp_id_block),
        })
    else:
        snp_only = [name for name in ('snp_min_abi', 'snp_smt',
                                      'snp_single_socket',
                                      'snp_ciphertext_hiding',
                                      'snp_id_block')
                    if getattr(parsed_args, name) is not None]
        if snp_only:
            raise exceptions.CommandError(
                'SEV-SNP options on a TDX flavor: %s' % ', '.join(
                    '--' + name.replace('_', '-') for name in snp_only))
        optional['buckypaper:tdx_sept_ve_disable'] = _bool(
            parsed_args.tdx_sept_ve_disable)
    if tee == 'sev-snp' and parsed_args.tdx_sept_ve_disable is not None:
        raise exceptions.CommandError(
            'TDX options on an SEV-SNP flavor: --[no-]tdx-sept-ve-disable')
    specs.update({k: v for k, v in optional.items() if v is not None})
    for item in parsed_args.properties or ():
        key, sep, value = item.partition('=')
        if not sep:
            raise exceptions.CommandError('--property wants key=value, '
                                          'not %r' % item)
        if key in LAUNCH_KEYS and value.lower() != specs[key].lower():
            # Nova would boot the flavor without launch security.
            raise exceptions.CommandError(
                '--property may not change %s of a confidential flavor'
                % key)
        specs[key] = value
    problem = flavor_specs.disk_key_problem(specs)
    if problem:
        raise exceptions.CommandError(problem)
    return specs


def _bool(value):
    return None if value is None else ('true' if value else 'false')


def _flag(parser, name, help_on, help_off):
    group = parser.add_mutually_exclusive_group()
    dest = name.replace('-', '_')
    group.add_argument('--' + name, dest=dest, action='store_true',
                       default=None, help=help_on)
    group.add_argument('--no-' + name, dest=dest, action='store_false',
                       default=None, help=help_off)


class CreateFlavor(command.ShowOne):
    """Create a Nova flavor for SEV-SNP or TDX guests with attestation."""

    def get_parser(self, prog_name):
        parser = super().get_parser(prog_name)
        parser.add_argument('name', metavar='<flavor-name>')
        parser.add_argument('--tee', required=True, choices=sorted(MODELS),
                            help='Confidential computing technology')
        parser.add_argument('--id', default='auto', metavar='<id>',
                            help='Flavor ID (default: auto)')
        parser.add_argument('--vcpus', type=int, default=2, metavar='<n>')
        parser.add_argument('--ram', type=int, default=2048,
                            metavar='<size-mb>')
        parser.add_argument('--disk', type=int, default=20,
                            metavar='<size-gb>')
        parser.add_argument('--description', metavar='<description>')
        public = parser.add_mutually_exclusive_group()
        public.add_argument('--public', dest='is_public',
                            action='store_true', default=True)
        public.add_argument('--private', dest='is_public',
                            action='store_false')
        parser.add_argument('--attestation', default=flavor_specs.REQUIRED,
                            choices=flavor_specs.ATTESTATION_VALUES,
                            help='Register servers with Nitride '
                                 '(default: required)')
        parser.add_argument('--disk-key', choices=flavor_specs.DISK_KEY_VALUES,
                            help='generate: the Nova driver creates each '
                                 'server\'s disk key in Barbican, released '
                                 'only to that attested server (needs '
                                 '--attestation required)')
        parser.add_argument('--keep-disk-key-on-delete', action='store_true',
                            help='Keep the generated disk key when the '
                                 'server is deleted (default: delete it; '
                                 'needs --disk-key generate)')
        parser.add_argument('--firmware', metavar='<catalog-name>',
                            help='Firmware catalog entry')
        parser.add_argument('--min-tcb', metavar='<name=svn,...>',
                            help='Minimum TCB, e.g. bl=3,snp=22')
        parser.add_argument('--snp-min-abi', metavar='<major.minor>')
        _flag(parser, 'snp-smt', 'SMT allowed (SNP default)',
              'SMT not allowed')
        _flag(parser, 'snp-single-socket', 'Single socket only',
              'Any sockets (SNP default)')
        _flag(parser, 'snp-ciphertext-hiding', 'Ciphertext hiding',
              'No ciphertext hiding (SNP default)')
        _flag(parser, 'snp-id-block', 'Sign an SNP ID block',
              'No ID block (default)')
        _flag(parser, 'tdx-sept-ve-disable', 'SEPT_VE_DISABLE (TDX default)',
              'Allow #VE on EPT violations')
        parser.add_argument('--property', metavar='<key=value>',
                            action='append', dest='properties',
                            help='Further extra specs (repeat)')
        return parser

    def take_action(self, parsed_args):
        specs = extra_specs(parsed_args)
        client = nova(self.app)
        kwargs = {}
        if parsed_args.description:
            kwargs['description'] = parsed_args.description
        flavor = client.flavors.create(
            parsed_args.name, parsed_args.ram, parsed_args.vcpus,
            parsed_args.disk, flavorid=parsed_args.id,
            is_public=parsed_args.is_public, **kwargs)
        try:
            flavor.set_keys(specs)
        except Exception:
            flavor.delete()
            raise
        return FIELDS, (flavor.id, flavor.name, flavor.vcpus, flavor.ram,
                        flavor.disk, parsed_args.is_public,
                        format_columns.DictColumn(specs))
