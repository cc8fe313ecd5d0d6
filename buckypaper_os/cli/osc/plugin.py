"""python-openstackclient plugin: ``openstack confidential ...``.

Registered through the ``openstack.cli.extension`` entry point; the
commands are in the ``openstack.confidential.v1`` entry point group.
"""

import os

from osc_lib import utils

DEFAULT_API_VERSION = '1'
API_NAME = 'confidential'
API_VERSION_OPTION = 'os_confidential_api_version'
API_VERSIONS = {'1': 'buckypaper_os.cli.osc.client.NitrideClient'}


def make_client(instance):
    """The Nitride client of the osc ClientManager ``instance``."""
    from buckypaper_os.cli.osc import client

    options = getattr(instance, '_cli_options', None)
    config = getattr(options, 'config', None) or {}
    files = config.get('nitride_config_file')
    return client.NitrideClient(
        client.context_from_auth_ref(instance.auth_ref),
        transport_url=config.get('nitride_transport_url'),
        topic=config.get('nitride_topic'),
        timeout=int(config.get('nitride_timeout') or 0) or None,
        config_files=[files] if files else ())


def build_option_parser(parser):
    """The global options of the plugin."""
    parser.add_argument(
        '--os-confidential-api-version', metavar='<confidential-api-version>',
        default=utils.env('OS_CONFIDENTIAL_API_VERSION',
                          default=DEFAULT_API_VERSION),
        help='Confidential computing API version, default=%s '
             '(Env: OS_CONFIDENTIAL_API_VERSION)' % DEFAULT_API_VERSION)
    parser.add_argument(
        '--os-nitride-transport-url', metavar='<transport-url>',
        default=os.environ.get('OS_NITRIDE_TRANSPORT_URL'),
        help='oslo.messaging URL of the control plane\'s message broker, '
             'where Nitride serves RPC (operators only; '
             'Env: OS_NITRIDE_TRANSPORT_URL, preferred: the URL holds the '
             'broker\'s password, and any local user can read a '
             'command line)')
    parser.add_argument(
        '--os-nitride-topic', metavar='<topic>',
        default=os.environ.get('OS_NITRIDE_TOPIC'),
        help='Nitride\'s RPC topic, default: [nitride] topic or "nitride" '
             '(Env: OS_NITRIDE_TOPIC)')
    parser.add_argument(
        '--os-nitride-config-file', metavar='<file>',
        default=os.environ.get('OS_NITRIDE_CONFIG_FILE'),
        help='buckypaper.conf with further oslo.messaging settings '
             '(Env: OS_NITRIDE_CONFIG_FILE)')
    parser.add_argument(
        '--os-nitride-timeout', metavar='<seconds>', type=int,
        default=os.environ.get('OS_NITRIDE_TIMEOUT'),
        help='RPC timeout in seconds (Env: OS_NITRIDE_TIMEOUT)')
    return parser
