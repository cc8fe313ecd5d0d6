"""libvirt config objects: format, parse, round trip, libvirt's schema."""

import base64
import unittest

from tests.unit.nova_driver import base  # noqa: F401  (skips without nova)

from lxml import etree
from nova import exception

from buckypaper_os import binding
from buckypaper_os.nova_driver import config
from tests import libvirt_schema

UUID = '6f1b7c2e-3d4a-4b5c-8d9e-0f1a2b3c4d5e'
PROJECT = 'p-1234'


def _xml(obj):
    return etree.tostring(obj.format_dom(), encoding='unicode')


def _domain(launch_security):
    dom = etree.fromstring(
        "<domain type='kvm'><name>i</name><memory>1048576</memory>"
        "<os><type arch='x86_64' machine='q35'>hvm</type></os></domain>")
    dom.append(launch_security.format_dom())
    return dom


class TestBase64Elements(unittest.TestCase):

    CASES = [
        (config.LibvirtConfigGuestSEVSNPHostData, 'hostData', 32),
        (config.LibvirtConfigGuestSEVSNPIdBlock, 'idBlock', 96),
        (config.LibvirtConfigGuestSEVSNPIdAuth, 'idAuth', 4096),
        (config.LibvirtConfigGuestTDXMrConfigId, 'mrConfigId', 48),
        (config.LibvirtConfigGuestTDXMrOwner, 'mrOwner', 48),
        (config.LibvirtConfigGuestTDXMrOwnerConfig, 'mrOwnerConfig', 48),
    ]

    def test_round_trip(self):
        for obj_class, element, size in self.CASES:
            data = bytes(range(256)) * (size // 256) + bytes(range(size % 256))
            node = obj_class(data).format_dom()
            self.assertEqual(element, node.tag)
            self.assertEqual(base64.b64encode(data).decode(), node.text)
            parsed = obj_class()
            parsed.parse_str(etree.tostring(node))
            self.assertEqual(data, parsed.value)

    def test_wrong_size_refused(self):
        for obj_class, element, size in self.CASES:
            self.assertRaises(exception.InvalidInput, obj_class,
                              b'\0' * (size - 1))
            parsed = obj_class()
            self.assertRaises(
                exception.InvalidInput, parsed.parse_str,
                '<%s>%s</%s>' % (element, base64.b64encode(
                    b'\0' * (size + 1)).decode(), element))

    def test_not_base64_refused(self):
        parsed = config.LibvirtConfigGuestSEVSNPHostData()
        self.assertRaises(exception.InvalidInput, parsed.parse_str,
                          '<hostData>not*base64</hostData>')

    def test_wrong_element_refused(self):
        parsed = config.LibvirtConfigGuestTDXMrOwner()
        self.assertRaises(exception.InvalidInput, parsed.parse_str,
                          '<mrConfigId>AAAA</mrConfigId>')

    def test_empty_refused_on_format(self):
        self.assertRaises(exception.InvalidInput,
                          config.LibvirtConfigGuestSEVSNPHostData().format_dom)


class TestSNPPolicy(unittest.TestCase):

    def test_default_is_upstream_default(self):
        policy = config.LibvirtConfigGuestSEVSNPPolicy()
        self.assertEqual('<policy>0x00030000</policy>', _xml(policy))
        self.assertTrue(policy.smt)
        self.assertFalse(policy.debug)

    def test_bits_by_name(self):
        policy = config.LibvirtConfigGuestSEVSNPPolicy(0)
        self.assertEqual(0x20000, policy.value)   # reserved bit 17 forced
        policy.smt = True
        policy.single_socket = True
        policy.ciphertext_hiding = True
        policy.set_min_abi(1, 55)
        self.assertEqual(0x1130137, policy.value)
        self.assertEqual((1, 55), (policy.abi_major, policy.abi_minor))
        policy.smt = False
        self.assertEqual(0x1120137, policy.value)

    def test_round_trip(self):
        policy = config.LibvirtConfigGuestSEVSNPPolicy(0x1b0000)
        parsed = config.LibvirtConfigGuestSEVSNPPolicy()
        parsed.parse_str(_xml(policy))
        self.assertEqual(0x1b0000, parsed.value)
        self.assertTrue(parsed.debug)
        self.assertTrue(parsed.single_socket)

    def test_reserved_bits_refused(self):
        self.assertRaises(exception.InvalidInput,
                          config.LibvirtConfigGuestSEVSNPPolicy, 1 << 40)
        self.assertRaises(exception.InvalidInput,
                          config.LibvirtConfigGuestSEVSNPPolicy().parse_str,
                          '<policy>zz</policy>')
        self.assertRaises(exception.InvalidInput,
                          config.LibvirtConfigGuestSEVSNPPolicy().set_min_abi,
                          256, 0)


class TestTDXPolicy(unittest.TestCase):

    def test_default_and_round_trip(self):
        policy = config.LibvirtConfigGuestTDXPolicy()
        self.assertEqual('<policy>0x10000000</policy>', _xml(policy))
        self.assertTrue(policy.sept_ve_disable)
        self.assertFalse(policy.debug)
        parsed = config.LibvirtConfigGuestTDXPolicy()
        parsed.parse_str('<policy>0x10000001</policy>')
        self.assertTrue(parsed.debug)


class TestSNPLaunchSecurity(unittest.TestCase):

    def _full(self):
        ls = config.BuckypaperSEVSNPLaunchSecurity()
        ls.policy = 0x1b0000 & ~config.SNP_POLICY_DEBUG
        ls.kernelHashes = True
        ls.host_data = binding.host_data(UUID, PROJECT)
        ls.id_block = b'\1' * 96
        ls.id_auth = b'\2' * 4096
        return ls

    def test_format(self):
        node = self._full().format_dom()
        self.assertEqual('sev-snp', node.get('type'))
        self.assertEqual('yes', node.get('kernelHashes'))
        self.assertEqual('0x00130000', node.findtext('policy'))
        self.assertEqual(1, len(node.findall('policy')))
        self.assertEqual(binding.host_data(UUID, PROJECT),
                         base64.b64decode(node.findtext('hostData')))

    def test_round_trip(self):
        ls = self._full()
        parsed = config.parse_launch_security(_xml(ls))
        self.assertIsInstance(parsed, config.BuckypaperSEVSNPLaunchSecurity)
        for attr in ('policy', 'kernelHashes', 'authorKey', 'vcek',
                     'host_data', 'id_block', 'id_auth'):
            self.assertEqual(getattr(ls, attr), getattr(parsed, attr), attr)
        self.assertEqual(_xml(ls), _xml(parsed))

    def test_upstream_xml_parses(self):
        from nova.virt.libvirt import config as vconfig
        upstream = vconfig.LibvirtConfigGuestSEVSNPLaunchSecurity()
        parsed = config.parse_launch_security(_xml(upstream))
        self.assertEqual(upstream.policy, parsed.policy)
        self.assertIsNone(parsed.host_data)
        self.assertEqual(_xml(upstream), _xml(parsed))

    def test_id_block_needs_id_auth(self):
        ls = self._full()
        ls.id_auth = None
        self.assertRaises(exception.InvalidInput, ls.format_dom)

    def test_missing_policy_refused(self):
        self.assertRaises(exception.InvalidInput,
                          config.parse_launch_security,
                          "<launchSecurity type='sev-snp'/>")

    def test_bad_attribute_refused(self):
        self.assertRaises(
            exception.InvalidInput, config.parse_launch_security,
            "<launchSecurity type='sev-snp' kernelHashes='on'>"
            "<policy>0x30000</policy></launchSecurity>")

    def test_other_types(self):
        self.assertIsNone(config.parse_launch_security(
            "<launchSecurity type='sev'><policy>0x33</policy>"
            "</launchSecurity>"))
        self.assertRaises(
            exception.InvalidInput,
            config.BuckypaperSEVSNPLaunchSecurity().parse_str,
            "<launchSecurity type='tdx'/>")

    @unittest.skipUnless(libvirt_schema.available(), libvirt_schema.MISSING)
    def test_libvirt_schema_accepts(self):
        self.assertEqual([], libvirt_schema.errors(_domain(self._full())))

    @unittest.skipUnless(libvirt_schema.available(), libvirt_schema.MISSING)
    def test_libvirt_schema_is_strict(self):
        dom = _domain(self._full())
        dom.find('launchSecurity').append(etree.Element('bogus'))
        self.assertNotEqual([], libvirt_schema.errors(dom))


class TestTDXLaunchSecurity(unittest.TestCase):

    def _full(self):
        ls = config.BuckypaperTDXLaunchSecurity()
        ls.policy = config.TDX_POLICY_SEPT_VE_DISABLE
        ls.mr_config_id = binding.mr_config_id(UUID, PROJECT)
        ls.mr_owner = binding.mr_owner(PROJECT)
        ls.mr_owner_config = b'\3' * 48
        ls.qgs_path = '/var/run/tdx-qgs/qgs.socket'
        return ls

    def test_format(self):
        node = self._full().format_dom()
        self.assertEqual('tdx', node.get('type'))
        self.assertEqual('0x10000000', node.findtext('policy'))
        self.assertEqual(binding.mr_config_id(UUID, PROJECT),
                         base64.b64decode(node.findtext('mrConfigId')))
        self.assertEqual(binding.mr_owner(PROJECT),
                         base64.b64decode(node.findtext('mrOwner')))
        self.assertEqual(1, len(node.findall('quoteGenerationService')))

    def test_round_trip(self):
        ls = self._full()
        parsed = config.parse_launch_security(_xml(ls))
        self.assertIsInstance(parsed, config.BuckypaperTDXLaunchSecurity)
        for attr in ('policy', 'mr_config_id', 'mr_owner',
                     'mr_owner_config', 'qgs_path'):
            self.assertEqual(getattr(ls, attr), getattr(parsed, attr), attr)
        self.assertEqual(_xml(ls), _xml(parsed))

    def test_upstream_xml_parses(self):
        from nova.virt.libvirt import config as vconfig
        upstream = vconfig.LibvirtConfigGuestTDXLaunchSecurity()
        parsed = config.parse_launch_security(_xml(upstream))
        self.assertIsNone(parsed.policy)
        self.assertIsNone(parsed.mr_config_id)
        self.assertEqual(_xml(upstream), _xml(parsed))

    @unittest.skipUnless(libvirt_schema.available(), libvirt_schema.MISSING)
    def test_libvirt_schema_accepts(self):
        self.assertEqual([], libvirt_schema.errors(_domain(self._full())))
