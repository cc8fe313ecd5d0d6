"""Confidential servers through Nova's API on the buckypaper driver.

Nova's own functional framework (fake libvirt, placement, the compute
API): servers are booted with SEV-SNP and TDX flavors and the domain XML
given to libvirt's ``defineXML`` is checked, also against libvirt 12's
RelaxNG schema. Nitride is a fake RPC client. Most tests use random
firmware and a stand-in :class:`measurement.Measurer` that records its
inputs; the ``test_real_*`` tests boot the fetched Debian sid OVMF images
(tools/fetch-firmware.sh) with the real SNP launch digest / TDX MRTD. Run
with ``tox -e functional-nova`` (stestr).
"""

import base64
import copy
import hashlib
import json
import os

from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives import serialization
import fixtures
from lxml import etree
from nova.tests.fixtures import libvirt as fakelibvirt
from nova.tests.functional.api import client
from nova.tests.functional.libvirt import base
from nova.virt.libvirt import driver as libvirt_driver
from nova.virt.libvirt import host as libvirt_host
from oslo_utils.fixture import uuidsentinel as uuids
from oslo_utils import versionutils

from buckypaper_os import attestation
from buckypaper_os.attestation.snp import measure as snp_measure
from buckypaper_os.attestation.tdx import measure as tdx_measure
from buckypaper_os import binding
from buckypaper_os.nitride_service import appraisal
from buckypaper_os.nova_driver import cmd
from buckypaper_os.nova_driver import config as bconfig
from buckypaper_os.nova_driver import driver as bdriver
from buckypaper_os.nova_driver import id_block
from buckypaper_os.nova_driver import measurement
from tests import libvirt_schema

# register_instance's binding argument shadows the module there.
instance_binding = binding.instance_binding


class FakeNitride:
    """Records register_instance / remove_instance; can be made to fail."""

    def __init__(self):
        self.registered = {}
        self.calls = []
        self.fail = None

    def register_instance(self, context, instance_uuid, project_id, tee,
                          measurements, binding=None, policy=None,
                          flavor_id=None):
        self.calls.append(('register', instance_uuid, context.roles))
        if self.fail:
            raise self.fail
        # What Nitride's engine checks of a registration.
        appraisal.validate(policy)
        attestation.Policy.from_dict({'measurements': measurements})
        assert binding == instance_binding(
            tee, instance_uuid, project_id).hex()
        self.registered[instance_uuid] = dict(
            project_id=project_id, tee=tee, measurements=measurements,
            binding=binding, policy=policy, flavor_id=flavor_id)
        return {'instance_uuid': instance_uuid, 'tee': tee,
                'binding': binding}

    def remove_instance(self, context, instance_uuid):
        self.calls.append(('remove', instance_uuid, context.roles))
        return self.registered.pop(instance_uuid, None) is not None


class FakeMeasurer:
    """Deterministic stand-in digests over every input."""

    def __init__(self):
        self.snp_launches = []

    def snp(self, launch):
        self.snp_launches.append(launch)
        return hashlib.sha384(b'snp|%s|%d|%s|%s|%s|%s' % (
            hashlib.sha384(launch.firmware).hexdigest().encode(),
            launch.vcpus, launch.vcpu_type.encode(),
            str(launch.kernel).encode(), str(launch.initrd).encode(),
            str(launch.cmdline).encode())).digest()

    def tdx(self, launch):
        return hashlib.sha384(b'tdx|' + launch.firmware).digest()


class _ConfidentialBase(base.ServersTestBase):
    microversion = 'latest'

    def _setup_compute_service(self):
        cmd.register_alias()
        self.flags(compute_driver=cmd.COMPUTE_DRIVER)

    def setUp(self):
        super().setUp()
        self.nitride = FakeNitride()
        self.useFixture(fixtures.MockPatchObject(
            bdriver.BuckypaperLibvirtDriver, '_nitride_api',
            new=lambda driver: self.nitride))
        self.measurer = FakeMeasurer()
        previous = measurement.set_measurer(self.measurer)
        self.addCleanup(measurement.set_measurer, previous)

        fw_dir = self.useFixture(fixtures.TempDir()).path
        self.firmware = {}
        entries = []
        for name, tees in (('ovmf-amdsev', ['sev-snp']),
                           ('ovmf-amdsev-next', ['sev-snp']),
                           ('ovmf-inteltdx', ['tdx'])):
            path = os.path.join(fw_dir, name + '.fd')
            data = os.urandom(4096) * 4
            with open(path, 'wb') as f:
                f.write(data)
            self.firmware[name] = (path, data)
            entries.append(
                '  - name: %s\n    path: %s\n    sha384: %s\n    tees: [%s]\n'
                % (name, path, hashlib.sha384(data).hexdigest(),
                   ', '.join(tees)))
        catalog = os.path.join(fw_dir, 'catalog.yaml')
        with open(catalog, 'w') as f:
            f.write('firmware:\n' + ''.join(entries))
        self.flags(firmware_catalog=catalog, group='buckypaper_compute')

        self.defined = []
        original = fakelibvirt.Connection.defineXML

        def define(conn, xml):
            self.defined.append(xml)
            return original(conn, xml)

        self.useFixture(fixtures.MockPatchObject(
            fakelibvirt.Connection, 'defineXML', new=define))

    def _use_real_firmware(self, name, filename, tee):
        """Catalog entry for a fetched image, and the real measurer."""
        directory = os.environ.get('BUCKYPAPER_FIRMWARE', os.path.join(
            libvirt_schema.ROOT, '.firmware'))
        path = os.path.join(directory, filename)
        if not os.path.isfile(path):
            self.skipTest('%s not found: run tools/fetch-firmware.sh' % path)
        with open(path, 'rb') as f:
            data = f.read()
        catalog = os.path.join(self.useFixture(fixtures.TempDir()).path,
                               'catalog.json')
        with open(catalog, 'w') as f:
            json.dump({'firmware': [{
                'name': name, 'path': path, 'tees': [tee],
                'sha384': hashlib.sha384(data).hexdigest()}]}, f)
        self.flags(firmware_catalog=catalog, group='buckypaper_compute')
        measurement.set_measurer(measurement.AttestationMeasurer())
        self.firmware[name] = (path, data)
        return data

    def _image(self, image_id, model, **props):
        image = copy.deepcopy(self.glance.image1)
        image['id'] = image_id
        image['properties'].update({
            'hw_firmware_type': 'uefi', 'hw_firmware_stateless': 'True',
            'hw_machine_type': 'q35', 'hw_mem_encryption': 'True',
            'hw_mem_encryption_model': model})
        image['properties'].update(props)
        self.glance.create(None, image)
        return image_id

    def _flavor(self, **extra_specs):
        return self._create_flavor(vcpu=2, extra_spec=extra_specs or None)

    def _boot(self, image, flavor, expected_state='ACTIVE'):
        return self._create_server(image_uuid=image, flavor_id=flavor,
                                   networks='none',
                                   expected_state=expected_state)

    def _launch_security(self, server):
        xml = [x for x in self.defined if server['id'] in x][-1]
        root = etree.fromstring(xml)
        return root, root.find('launchSecurity')

    def _assert_schema_valid(self, root):
        if not libvirt_schema.available():
            self.skipTest(libvirt_schema.MISSING)
        self.assertEqual([], libvirt_schema.errors(root))

    def _assert_firmware(self, root, name):
        loader = root.find('os/loader')
        self.assertEqual(self.firmware[name][0], loader.text)
        self.assertEqual('rom', loader.get('type'))
        self.assertEqual('yes', loader.get('stateless'))
        self.assertIsNone(root.find('os').get('firmware'))
        self.assertIsNone(root.find('os/nvram'))


class _SNPBase(_ConfidentialBase):

    def setUp(self):
        super().setUp()
        self.image = self._image(uuids.snp_image, 'amd-sev-snp')
        self.libvirt.amd_sev.sev = True
        self.libvirt.amd_sev.sev_es = False
        self.libvirt.amd_sev.sev_snp = True
        self.useFixture(fixtures.MockPatchObject(
            fakelibvirt.virConnect, '_domain_capability_features',
            new=fakelibvirt.virConnect.
            _domain_capability_features_with_launch_security_SEV_SNP))
        self.start_compute(
            libvirt_version=versionutils.convert_version_to_int(
                libvirt_driver.MIN_LIBVIRT_STATELESS_FIRMWARE),
            qemu_version=versionutils.convert_version_to_int(
                libvirt_host.MIN_QEMU_SEV_ES_VERSION))


class TestSNPServers(_SNPBase):

    def test_boot_register_and_delete(self):
        flavor = self._flavor(**{
            'buckypaper:snp_single_socket': 'true',
            'buckypaper:snp_ciphertext_hiding': 'true',
            'buckypaper:snp_min_abi': '1.55',
            'buckypaper:min_tcb': 'bl=3,snp=22,ucode=213'})
        server = self._boot(self.image, flavor)
        root, ls = self._launch_security(server)

        self.assertEqual('sev-snp', ls.get('type'))
        policy = int(ls.findtext('policy'), 16)
        self.assertEqual(0x1130137, policy)
        self.assertFalse(policy & bconfig.SNP_POLICY_DEBUG)
        self.assertEqual('no', ls.get('kernelHashes'))
        project = self.api.project_id
        host_data = binding.host_data(server['id'], project)
        self.assertEqual(host_data,
                         base64.b64decode(ls.findtext('hostData')))
        self.assertIsNone(ls.find('idBlock'))
        self._assert_firmware(root, 'ovmf-amdsev')

        launch = self.measurer.snp_launches[-1]
        self.assertEqual(self.firmware['ovmf-amdsev'][1], launch.firmware)
        self.assertEqual(2, launch.vcpus)
        self.assertIsNone(launch.kernel)

        reg = self.nitride.registered[server['id']]
        self.assertEqual('sev-snp', reg['tee'])
        self.assertEqual(project, reg['project_id'])
        self.assertEqual(host_data.hex(), reg['binding'])
        self.assertEqual([self.measurer.snp(launch).hex()],
                         reg['measurements'])
        self.assertEqual(flavor, reg['flavor_id'])
        self.assertEqual({
            'allow_debug': False,
            'snp_policy_set': 0x1130000,
            'snp_policy_clear': bconfig.SNP_POLICY_KNOWN & ~0xffff
            & ~0x1130000,
            'snp_min_abi': '1.55',
            'min_tcb': {'bl': 3, 'snp': 22, 'ucode': 213}}, reg['policy'])
        self.assertEqual(['service'], self.nitride.calls[0][2])

        self._assert_schema_valid(root)

        self._delete_server(server)
        self.assertNotIn(server['id'], self.nitride.registered)
        self.assertEqual(('remove', server['id'], ['service']),
                         self.nitride.calls[-1])

    def test_defaults_and_named_firmware(self):
        flavor = self._flavor(**{'buckypaper:firmware': 'ovmf-amdsev-next'})
        server = self._boot(self.image, flavor)
        root, ls = self._launch_security(server)
        self.assertEqual(0x30000, int(ls.findtext('policy'), 16))
        self._assert_firmware(root, 'ovmf-amdsev-next')
        self._assert_schema_valid(root)

    def test_direct_kernel_boot_kernel_hashes(self):
        for image_id in (uuids.kernel, uuids.ramdisk):
            kernel = copy.deepcopy(self.glance.image1)
            kernel['id'] = image_id
            self.glance.create(None, kernel)
        image = self._image(uuids.snp_kernel_image, 'amd-sev-snp',
                            kernel_id=uuids.kernel, ramdisk_id=uuids.ramdisk,
                            os_command_line='console=ttyS0')
        server = self._boot(image, self._flavor())
        root, ls = self._launch_security(server)
        self.assertEqual('yes', ls.get('kernelHashes'))
        launch = self.measurer.snp_launches[-1]
        self.assertEqual(root.findtext('os/kernel'), launch.kernel)
        self.assertEqual(root.findtext('os/initrd'), launch.initrd)
        self.assertIn('console=ttyS0', launch.cmdline)
        self._assert_schema_valid(root)

    def test_require_measured_os(self):
        """A disk-image boot measures only the firmware: refused then."""
        self.flags(require_measured_os=True, group='buckypaper_compute')
        server = self._boot(self.image, self._flavor(),
                            expected_state='ERROR')
        self.assertIn('would cover only the firmware: the guest boots from '
                      'its disk image', self.api.get_server(
                          server['id'])['fault']['message'])
        self.assertEqual([], self.nitride.calls)
        self._boot(self.image, self._flavor(**{
            'buckypaper:attestation': 'disabled'}))
        self.test_direct_kernel_boot_kernel_hashes()

    def test_id_block(self):
        key = ec.generate_private_key(ec.SECP384R1())
        key_file = os.path.join(self.useFixture(fixtures.TempDir()).path,
                                'id.pem')
        with open(key_file, 'wb') as f:
            f.write(key.private_bytes(
                serialization.Encoding.PEM,
                serialization.PrivateFormat.PKCS8,
                serialization.NoEncryption()))
        self.flags(snp_id_key_file=key_file, group='buckypaper_compute')
        server = self._boot(self.image, self._flavor(**{
            'buckypaper:snp_id_block': 'true'}))
        root, ls = self._launch_security(server)
        block = base64.b64decode(ls.findtext('idBlock'))
        auth = base64.b64decode(ls.findtext('idAuth'))
        reg = self.nitride.registered[server['id']]
        self.assertEqual(reg['measurements'][0], block[:48].hex())
        self.assertEqual(int(ls.findtext('policy'), 16),
                         int.from_bytes(block[88:96], 'little'))
        self.assertTrue(id_block.verify_id_auth(block, auth))
        self.assertEqual('no', ls.get('authorKey'))
        self._assert_schema_valid(root)

    def test_real_launch_digest_of_sid_ovmf_amdsev(self):
        data = self._use_real_firmware('sid-amdsev', 'OVMF.amdsev.fd',
                                       'sev-snp')
        self.flags(snp_vcpu_type='EPYC-Milan', group='buckypaper_compute')
        server = self._boot(self.image, self._flavor())
        root, ls = self._launch_security(server)
        self._assert_firmware(root, 'sid-amdsev')
        expected = snp_measure.launch_digest(data, 2,
                                             cpu_model='EPYC-Milan')
        self.assertEqual([expected.hex()],
                         self.nitride.registered[server['id']][
                             'measurements'])
        self._assert_schema_valid(root)

    def test_registration_failure_fails_the_boot(self):
        self.nitride.fail = RuntimeError('broker unreachable')
        server = self._boot(self.image, self._flavor(),
                            expected_state='ERROR')
        self.assertNotIn(server['id'], self.nitride.registered)
        self.assertFalse([x for x in self.defined if server['id'] in x])
        server = self.api.get_server(server['id'])
        self.assertIn('Nitride', server['fault']['message'] +
                      server['fault'].get('details', ''))

    def test_tampered_firmware_fails_the_boot(self):
        with open(self.firmware['ovmf-amdsev'][0], 'r+b') as f:
            f.write(b'\xcc')
        server = self._boot(self.image, self._flavor(),
                            expected_state='ERROR')
        self.assertEqual([], self.nitride.calls)
        self.assertIn('SHA-384', self.api.get_server(
            server['id'])['fault']['message'])

    def test_tdx_option_on_snp_guest_fails_the_boot(self):
        server = self._boot(self.image, self._flavor(**{
            'buckypaper:tdx_sept_ve_disable': 'true'}),
            expected_state='ERROR')
        self.assertIn('cannot be used with', self.api.get_server(
            server['id'])['fault']['message'])
        self.assertEqual([], self.nitride.calls)

    def test_image_properties(self):
        image = self._image(uuids.snp_image_props, 'amd-sev-snp', **{
            'buckypaper:firmware': 'ovmf-amdsev-next',
            'buckypaper:snp_single_socket': 'true'})
        server = self._boot(image, self._flavor(**{
            'buckypaper:snp_single_socket': 'true'}))
        root, ls = self._launch_security(server)
        self._assert_firmware(root, 'ovmf-amdsev-next')
        self.assertEqual(0x130000, int(ls.findtext('policy'), 16))

        server = self._boot(image, self._flavor(**{
            'buckypaper:snp_single_socket': 'false'}),
            expected_state='ERROR')
        self.assertIn('the flavor sets buckypaper:snp_single_socket',
                      self.api.get_server(server['id'])['fault']['message'])

    def test_model_without_mem_encryption_fails_the_boot(self):
        """Nova builds no launchSecurity without hw:mem_encryption=true."""
        image = self._image(uuids.snp_model_only, 'amd-sev-snp',
                            hw_mem_encryption='False')
        server = self._boot(image, self._flavor(), expected_state='ERROR')
        self.assertIn('asks for amd-sev-snp memory encryption, but the '
                      'guest would boot without it', self.api.get_server(
                          server['id'])['fault']['message'])
        self.assertEqual([], self.nitride.calls)
        self.assertFalse([x for x in self.defined if server['id'] in x])

    def test_buckypaper_key_without_snp_or_tdx_fails_the_boot(self):
        server = self._boot(self.glance.image1['id'], self._flavor(**{
            'buckypaper:attestation': 'required'}), expected_state='ERROR')
        self.assertIn('need hw:mem_encryption_model amd-sev-snp or '
                      'intel-tdx', self.api.get_server(
                          server['id'])['fault']['message'])
        self.assertEqual([], self.nitride.calls)

    def test_attestation_disabled_is_not_registered(self):
        server = self._boot(self.image, self._flavor(**{
            'buckypaper:attestation': 'disabled'}))
        root, ls = self._launch_security(server)
        self.assertIsNotNone(ls.find('hostData'))
        self.assertEqual([], self.nitride.calls)


class TestTDXServers(_ConfidentialBase):

    def setUp(self):
        super().setUp()
        self.image = self._image(uuids.tdx_image, 'intel-tdx',
                                 hw_video_model='none')
        self.flags(cpu_mode='host-passthrough', group='libvirt')
        self.useFixture(fixtures.MockPatch(
            'nova.virt.libvirt.host.Host._get_tdx_capacity',
            return_value=63))
        self.useFixture(fixtures.MockPatchObject(
            fakelibvirt.virConnect, '_domain_capability_features',
            new=fakelibvirt.virConnect._domain_capability_features_with_TDX))
        self.start_compute(
            libvirt_version=versionutils.convert_version_to_int(
                libvirt_driver.MIN_LIBVIRT_STATELESS_FIRMWARE))

    def test_require_measured_os_refuses_attested_tdx(self):
        self.flags(require_measured_os=True, group='buckypaper_compute')
        server = self._boot(self.image, self._flavor(),
                            expected_state='ERROR')
        self.assertIn('the guest is TDX (no RTMR reference values',
                      self.api.get_server(server['id'])['fault']['message'])
        self.assertEqual([], self.nitride.calls)

    def test_boot_register_and_delete(self):
        flavor = self._flavor(**{'buckypaper:min_tcb': 'tee_tcb_svn_0=5'})
        server = self._boot(self.image, flavor)
        root, ls = self._launch_security(server)
        project = self.api.project_id

        self.assertEqual('tdx', ls.get('type'))
        self.assertEqual(bconfig.TDX_POLICY_SEPT_VE_DISABLE,
                         int(ls.findtext('policy'), 16))
        mr_config_id = binding.mr_config_id(server['id'], project)
        self.assertEqual(mr_config_id,
                         base64.b64decode(ls.findtext('mrConfigId')))
        self.assertEqual(binding.mr_owner(project),
                         base64.b64decode(ls.findtext('mrOwner')))
        self.assertIsNotNone(ls.find('quoteGenerationService'))
        self._assert_firmware(root, 'ovmf-inteltdx')

        reg = self.nitride.registered[server['id']]
        self.assertEqual('tdx', reg['tee'])
        self.assertEqual(mr_config_id.hex(), reg['binding'])
        self.assertEqual([hashlib.sha384(
            b'tdx|' + self.firmware['ovmf-inteltdx'][1]).hexdigest()],
            reg['measurements'])
        self.assertEqual({
            'allow_debug': False, 'require_sept_ve_disable': True,
            'mr_owner': binding.mr_owner(project).hex(),
            'min_tcb': {'tee_tcb_svn_0': 5}}, reg['policy'])
        self._assert_schema_valid(root)

        self._delete_server(server)
        self.assertEqual({}, self.nitride.registered)

    def test_real_mrtd_of_sid_ovmf_inteltdx(self):
        data = self._use_real_firmware('sid-inteltdx', 'OVMF.inteltdx.ms.fd',
                                       'tdx')
        server = self._boot(self.image, self._flavor())
        root, ls = self._launch_security(server)
        self._assert_firmware(root, 'sid-inteltdx')
        self.assertEqual([tdx_measure.mrtd(data).hex()],
                         self.nitride.registered[server['id']][
                             'measurements'])
        self._assert_schema_valid(root)

    def test_snp_firmware_refused_for_tdx(self):
        server = self._boot(self.image, self._flavor(**{
            'buckypaper:firmware': 'ovmf-amdsev'}), expected_state='ERROR')
        self.assertIn('does not support tdx', self.api.get_server(
            server['id'])['fault']['message'])


class TestExtraSpecValidation(base.ServersTestBase):
    """The API refuses invalid buckypaper: extra specs with HTTP 400."""

    microversion = 'latest'

    def _set(self, specs):
        flavor = self._create_flavor()
        return self.admin_api.post_extra_spec(flavor,
                                              {'extra_specs': specs})

    def test_valid_accepted(self):
        self._set({'buckypaper:attestation': 'required',
                   'buckypaper:firmware': 'ovmf-amdsev',
                   'buckypaper:snp_smt': 'false',
                   'buckypaper:snp_min_abi': '1.55',
                   'buckypaper:min_tcb': 'bl=3,snp=22',
                   'buckypaper:tdx_sept_ve_disable': 'true',
                   'buckypaper:disk_key': 'generate',
                   'buckypaper:disk_key_on_delete': 'keep'})

    def test_combinations_reach_the_boot(self):
        # Nova validates one key at a time, here and nowhere else (no hook
        # sees a flavor's keys together): a TDX option beside the SNP
        # model passes the API; the driver refuses it at boot
        # (TestSNPServers.test_tdx_option_on_snp_guest_fails_the_boot).
        self._set({'hw:mem_encryption_model': 'amd-sev-snp',
                   'buckypaper:tdx_sept_ve_disable': 'true'})

    def test_invalid_rejected(self):
        cases = {
            'buckypaper:attestation': ('maybe', 'not one of'),
            'buckypaper:firmware': ('../etc/passwd', 'not of the format'),
            'buckypaper:snp_smt': ('perhaps', 'boolean'),
            'buckypaper:snp_min_abi': ('1.256', 'major.minor'),
            'buckypaper:min_tcb': ('bl=3,foo=1', 'unknown TCB component'),
            'buckypaper:disk_key': ('true', 'not one of'),
            'buckypaper:disk_key_on_delete': ('shred', 'not one of'),
            'buckypaper:debug': ('true', 'not appear to be a valid'),
        }
        cases = list(cases.items()) + [
            ('buckypaper:min_tcb', ('snp=22,tee_tcb_svn_0=1',
                                    'mixes SEV-SNP and TDX'))]
        for key, (value, message) in cases:
            ex = self.assertRaises(client.OpenStackApiException, self._set,
                                   {key: value})
            self.assertEqual(400, ex.response.status_code, key)
            self.assertIn(message, ex.response.text, key)
