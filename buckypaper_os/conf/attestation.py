"""Options of the ``[attestation]`` group: how evidence is verified."""

from oslo_config import cfg

from buckypaper_os.conf import groups

GROUP = cfg.OptGroup(
    'attestation', title='Attestation verifier',
    help='How SEV-SNP reports and TDX quotes are verified and appraised.')

OPTS = [
    cfg.StrOpt('collateral_cache_dir',
               help='Directory of cached vendor collateral for offline '
                    '(air-gapped) verification: AMD KDS certificates, '
                    'chains and CRLs under the paths AMD KDS serves them '
                    '(vcek/v1/<product>/..., vlek/v1/<product>/...), and '
                    'Intel PCS v4 responses. Unset means certificates and '
                    'collateral must come with the evidence.'),
    cfg.StrOpt('policy_file',
               help='JSON appraisal policy applied when a caller gives '
                    'none. Unset means the built-in safe defaults: debug '
                    'guests refused, stale collateral refused, TDX TCB '
                    'graded by Intel status.'),
]


def register_opts(conf: cfg.ConfigOpts) -> None:
    """Register the group's options on ``conf``."""
    groups.register(conf, GROUP)
    conf.register_opts(OPTS, group=GROUP)


def list_opts():
    """The group and its options, for oslo-config-generator."""
    return {GROUP: OPTS}
