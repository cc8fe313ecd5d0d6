"""Options of the ``[buckypaper_compute]`` group: the Nova compute driver.

Read by :mod:`buckypaper_os.nova_driver` in nova-compute (run it with
``buckypaper-nova-compute`` and ``[DEFAULT] compute_driver =
buckypaper.BuckypaperLibvirtDriver``).
"""

from keystoneauth1 import loading as ks_loading
from oslo_config import cfg

from buckypaper_os.conf import groups

GROUP = cfg.OptGroup(
    'buckypaper_compute', title='buckypaper-os compute driver',
    help='Confidential guests (AMD SEV-SNP, Intel TDX) launched by the '
         'buckypaper libvirt driver: measured firmware, launch policy, '
         'instance binding and registration with Nitride.')

OPTS = [
    cfg.StrOpt('firmware_catalog',
               help='JSON or YAML file listing the measured stateless '
                    'firmware images confidential guests may boot: a '
                    'list "firmware" of objects with name, path, sha384 '
                    '(hex) and tees (sev-snp and/or tdx). Every image is '
                    'checked against its SHA-384 before use; a mismatch '
                    'fails the boot. Without a catalog, confidential '
                    'guests cannot boot on this driver.'),
    cfg.StrOpt('default_snp_firmware',
               help='Catalog name of the firmware for SEV-SNP guests whose '
                    'flavor sets no buckypaper:firmware. Unset: such '
                    'guests take the first catalog entry for sev-snp.'),
    cfg.StrOpt('default_tdx_firmware',
               help='Catalog name of the firmware for TDX guests whose '
                    'flavor sets no buckypaper:firmware. Unset: such '
                    'guests take the first catalog entry for tdx.'),
    cfg.StrOpt('snp_vcpu_type', default='EPYC-v4',
               help='CPU model whose signature goes into the VMSA of '
                    'SEV-SNP guests when computing their expected launch '
                    'measurement, used when the guest CPU is not a named '
                    'model (host-model, host-passthrough). It must match '
                    'the CPU the host presents to the guest.'),
    cfg.BoolOpt('require_measured_os', default=False,
                help='Refuse to boot an attested guest whose launch '
                     'measurement covers only its firmware. A guest that '
                     'boots from its disk image is measured up to the '
                     'firmware: a host could boot another OS with the same '
                     'firmware and launch binding and get its disk key. '
                     'When true, attested SEV-SNP guests must boot their '
                     'kernel directly (image kernel_id and ramdisk_id), '
                     'which measures kernel, initrd and command line '
                     '(kernelHashes), and attested TDX guests are refused '
                     '(their OS is measured in RTMRs, for which no '
                     'reference values are registered yet).'),
    cfg.StrOpt('snp_id_key_file',
               help='PEM file with the operator\'s ECDSA P-384 ID key. '
                    'When set, SEV-SNP guests whose flavor asks for '
                    'buckypaper:snp_id_block=true get an ID block and ID '
                    'auth signed with it over the expected measurement '
                    'and policy, so the AMD secure processor refuses any '
                    'other launch.'),
    cfg.StrOpt('tdx_quote_generation_socket',
               help='Path of the TDX Quote Generation Service socket '
                    'given to libvirt. Unset: libvirt\'s default '
                    '(/var/run/tdx-qgs/qgs.socket).'),
    cfg.StrOpt('nitride_transport_url', secret=True,
               help='oslo.messaging transport URL of the broker Nitride '
                    'listens on. Unset: the [DEFAULT] transport_url of '
                    'nova-compute. Registration of a guest with Nitride '
                    'must succeed or the guest does not boot.'),
    cfg.URIOpt('nitride_guest_url', schemes=['http', 'https'],
               help='URL of Nitride\'s guest API as the guests reach it. '
                    'Given, with the secret reference, to guests whose '
                    'flavor sets buckypaper:disk_key=generate (server '
                    'metadata buckypaper_nitride_url, read by the '
                    'enclaivelet). Required for such guests.'),
    cfg.StrOpt('nitride_user_id',
               help='Keystone user ID of Nitride\'s service user. A '
                    'generated disk key grants it read access through a '
                    'Barbican ACL: Nitride relays the sealed release as '
                    'that user. Required for buckypaper:disk_key.'),
    cfg.URIOpt('barbican_endpoint', schemes=['http', 'https'],
               help='Barbican API endpoint (without /v1) used to create '
                    'generated disk keys with the user\'s token. Unset: '
                    'the key-manager endpoint of the request\'s service '
                    'catalog.'),
    cfg.StrOpt('barbican_endpoint_type', default='public',
               choices=['public', 'internal', 'admin'],
               help='Interface of the key-manager endpoint taken from the '
                    'service catalog when barbican_endpoint is unset.'),
]


def register_opts(conf: cfg.ConfigOpts) -> None:
    """Register the group and its options."""
    groups.register(conf, GROUP)
    conf.register_opts(OPTS, group=GROUP)
    # TLS and timeout of the session to Barbican (cafile, insecure, ...).
    ks_loading.register_session_conf_options(conf, GROUP.name)


def list_opts():
    """The group and its options, for oslo-config-generator."""
    return {GROUP: OPTS + ks_loading.get_session_conf_options()}
