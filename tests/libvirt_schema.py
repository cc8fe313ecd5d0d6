"""libvirt's RelaxNG domain schema (tools/fetch-libvirt-schema.sh), if any.

Tests that validate domain XML skip with a message when the schemas are
absent; ``BUCKYPAPER_LIBVIRT_SCHEMAS`` names another directory.
"""

import functools
import os

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SCHEMA_DIR = os.environ.get(
    'BUCKYPAPER_LIBVIRT_SCHEMAS',
    os.path.join(ROOT, '.cache', 'libvirt-schemas'))
MISSING = ('libvirt domain schema not found in %s: run '
           'tools/fetch-libvirt-schema.sh' % SCHEMA_DIR)


def available() -> bool:
    return os.path.isfile(os.path.join(SCHEMA_DIR, 'domain.rng'))


@functools.lru_cache(maxsize=None)
def _relaxng():
    from lxml import etree
    return etree.RelaxNG(etree.parse(os.path.join(SCHEMA_DIR, 'domain.rng')))


def errors(domain_xml) -> list:
    """Schema errors of a domain XML document (empty when it is valid)."""
    from lxml import etree
    if isinstance(domain_xml, (str, bytes)):
        domain_xml = etree.fromstring(domain_xml)
    schema = _relaxng()
    if schema.validate(domain_xml):
        return []
    return [str(e) for e in schema.error_log]
