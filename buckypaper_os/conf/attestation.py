"""Options of the ``[attestation]`` group: how evidence is verified."""

from oslo_config import cfg

from buckypaper_os.conf import groups

GROUP = cfg.OptGroup(
    'attestation', title='Attestation verifier',
    help='How SEV-SNP reports and TDX quotes are verified and appraised.')

OPTS = [
    cfg.StrOpt('collateral_cache_dir',
               help='Directory of vendor collateral that the operator keeps '
                    'current, for revocation and TCB checks that no guest '
                    'can skip. AMD KDS files under the paths KDS serves '
                    'them: vcek/v1/<product>/crl and vlek/v1/<product>/crl '
                    '(DER), vcek/v1/<product>/cert_chain, and VCEKs as '
                    'vcek/v1/<product>/<hwid>/bl<N>-tee<N>-snp<N>-ucode<N>'
                    '.der. Intel PCS v4 responses per platform under '
                    'tdx/v4/<fmspc>/: tcb_info.json, '
                    'tcb_info_issuer_chain.pem, qe_identity.json, '
                    'qe_identity_issuer_chain.pem, pck_crl.der, '
                    'pck_crl_issuer_chain.pem, root_ca_crl.der. When set, '
                    'CRLs and TCB data are read from here only and are '
                    'required: evidence whose product or platform has none '
                    'here, or whose files are past their next update, is '
                    'refused. Unset means revocation and TCB data are only '
                    'what the guest sends.'),
    cfg.StrOpt('policy_file',
               help='JSON appraisal policy document (the keys of a project '
                    'or flavor policy, e.g. {"min_tcb": {"snp": 8}}) '
                    'under every other one, and their floor: project, '
                    'flavor and instance policies (which arrive over RPC) '
                    'may tighten its checks but never loosen them. Also '
                    'the policy, and the floor, of verify. Unset means the '
                    'built-in '
                    'safe defaults: debug guests refused, stale collateral '
                    'refused, TDX TCB graded by Intel status. Nitride does '
                    'not start with a file it cannot read or that is not a '
                    'valid policy.'),
]


def register_opts(conf: cfg.ConfigOpts) -> None:
    """Register the group's options on ``conf``."""
    groups.register(conf, GROUP)
    conf.register_opts(OPTS, group=GROUP)


def list_opts():
    """The group and its options, for oslo-config-generator."""
    return {GROUP: OPTS}
