"""buckypaper: extra spec validators and the launch options of a flavor."""

import unittest

from tests.unit.nova_driver import base  # noqa: F401  (skips without nova)

from nova.api.validation.extra_specs import validators
from nova import exception

from buckypaper_os.nova_driver import extra_specs as es

SNP = 'amd-sev-snp'
TDX = 'intel-tdx'


class TestValidators(unittest.TestCase):

    def test_registered_through_the_entry_point(self):
        names = {v.name for v in es.register()}
        self.assertTrue(names <= set(validators.VALIDATORS), names)
        self.assertIn('buckypaper', validators.NAMESPACES)

    def test_valid_values(self):
        for name, value in [
                (es.ATTESTATION, 'required'), (es.ATTESTATION, 'disabled'),
                (es.FIRMWARE, 'ovmf-amdsev_2026.08'),
                (es.SNP_SMT, 'false'), (es.SNP_SINGLE_SOCKET, 'True'),
                (es.SNP_CIPHERTEXT_HIDING, '1'), (es.SNP_ID_BLOCK, 'yes'),
                (es.SNP_MIN_ABI, '1.55'), (es.SNP_MIN_ABI, '255.0'),
                (es.MIN_TCB, 'bl=3, tee=0,snp=22,ucode=213,fmc=1'),
                (es.MIN_TCB, 'tee_tcb_svn_0=5,tee_tcb_svn_15=1'),
                (es.TDX_SEPT_VE_DISABLE, 'true'),
                (es.DISK_KEY, 'generate'), (es.DISK_KEY_ON_DELETE, 'keep'),
                (es.DISK_KEY_ON_DELETE, 'delete')]:
            validators.validate(name, value)

    def test_invalid_values(self):
        for name, value, message in [
                (es.ATTESTATION, 'optional', 'is not one of'),
                (es.FIRMWARE, '../x', 'is not of the format'),
                (es.FIRMWARE, '', 'is not of the format'),
                (es.SNP_SMT, 'maybe', 'boolean'),
                (es.SNP_MIN_ABI, '1', 'major.minor'),
                (es.SNP_MIN_ABI, '1.256', 'major.minor'),
                (es.MIN_TCB, 'bl', 'component=svn'),
                (es.MIN_TCB, 'bl=300', 'greater than 255'),
                (es.MIN_TCB, 'bl=1,bl=2', 'given twice'),
                (es.MIN_TCB, 'tee_tcb_svn_16=1', 'unknown TCB component'),
                (es.MIN_TCB, 'snp=22,tee_tcb_svn_0=1', 'mixes SEV-SNP'),
                (es.DISK_KEY, 'true', 'is not one of'),
                (es.DISK_KEY_ON_DELETE, 'shred', 'is not one of'),
                (PREFIX_UNKNOWN, 'true', 'not appear to be a valid')]:
            with self.assertRaises(exception.ValidationError) as ctx:
                validators.validate(name, value)
            self.assertIn(message, str(ctx.exception), (name, value))


PREFIX_UNKNOWN = es.PREFIX + 'debug'


class TestCheckFlavor(unittest.TestCase):

    def test_not_confidential(self):
        self.assertIsNone(es.check_flavor({'hw:cpu_policy': 'dedicated'},
                                          None))
        self.assertIsNone(es.check_flavor({}, 'amd-sev'))

    def test_buckypaper_key_needs_snp_or_tdx(self):
        for model in (None, 'amd-sev', 'amd-sev-es'):
            with self.assertRaises(exception.ValidationError) as ctx:
                es.check_flavor({es.FIRMWARE: 'x'}, model)
            self.assertIn('amd-sev-snp or intel-tdx', str(ctx.exception))

    def test_snp_defaults(self):
        options = es.check_flavor({}, SNP)
        self.assertEqual(es.LaunchOptions(tee='sev-snp'), options)
        self.assertTrue(options.snp_smt)
        self.assertTrue(options.attestation)

    def test_snp_options(self):
        options = es.check_flavor({
            es.SNP_SMT: 'false', es.SNP_SINGLE_SOCKET: 'true',
            es.SNP_CIPHERTEXT_HIDING: 'true', es.SNP_MIN_ABI: '1.55',
            es.MIN_TCB: 'bl=3,snp=22', es.FIRMWARE: 'fw',
            'hw:mem_encryption': 'true'}, SNP)
        self.assertEqual((False, True, True, (1, 55), 'fw'), (
            options.snp_smt, options.snp_single_socket,
            options.snp_ciphertext_hiding, options.snp_min_abi,
            options.firmware))
        self.assertEqual({'bl': 3, 'snp': 22}, options.min_tcb)

    def test_tdx_options(self):
        options = es.check_flavor({es.TDX_SEPT_VE_DISABLE: 'false',
                                   es.MIN_TCB: 'tee_tcb_svn_2=7'}, TDX)
        self.assertEqual('tdx', options.tee)
        self.assertFalse(options.tdx_sept_ve_disable)
        self.assertEqual({'tee_tcb_svn_2': 7}, options.min_tcb)

    def test_disk_key_options(self):
        self.assertEqual((False, 'delete'), (
            es.check_flavor({}, TDX).disk_key,
            es.check_flavor({}, TDX).disk_key_on_delete))
        options = es.check_flavor({es.DISK_KEY: 'generate',
                                   es.DISK_KEY_ON_DELETE: 'keep'}, SNP)
        self.assertEqual((True, 'keep'), (options.disk_key,
                                          options.disk_key_on_delete))

    def test_image_properties(self):
        merged = es.merge_image_properties(
            {es.SNP_SMT: 'false', 'hw:x': '1'},
            {'image_buckypaper:firmware': 'fw', 'image_hw_x': '2',
             'image_buckypaper:snp_smt': 'false', 'other': 'x'})
        self.assertEqual({es.SNP_SMT: 'false', 'hw:x': '1',
                          es.FIRMWARE: 'fw'}, merged)
        with self.assertRaises(exception.ValidationError) as ctx:
            es.merge_image_properties({es.FIRMWARE: 'a'},
                                      {'image_buckypaper:firmware': 'b'})
        self.assertIn('the flavor sets buckypaper:firmware', str(
            ctx.exception))

    def test_wrong_tee_combinations(self):
        for specs, model, message in [
                ({es.TDX_SEPT_VE_DISABLE: 'true'}, SNP, 'cannot be used'),
                ({es.SNP_SMT: 'true', es.SNP_MIN_ABI: '1.0'}, TDX,
                 'cannot be used'),
                ({es.MIN_TCB: 'tee_tcb_svn_0=1'}, SNP, 'another TEE'),
                ({es.MIN_TCB: 'bl=1'}, TDX, 'another TEE'),
                ({es.SNP_ID_BLOCK: 'true', es.ATTESTATION: 'disabled'}, SNP,
                 'needs buckypaper:attestation=required'),
                ({es.PREFIX + 'nope': '1'}, SNP, 'not a buckypaper'),
                ({es.DISK_KEY: 'generate', es.ATTESTATION: 'disabled'}, TDX,
                 'needs buckypaper:attestation=required'),
                ({es.DISK_KEY_ON_DELETE: 'keep'}, SNP,
                 'needs buckypaper:disk_key=generate'),
                ({es.SNP_SMT: 'perhaps'}, SNP, 'boolean')]:
            with self.assertRaises(exception.ValidationError) as ctx:
                es.check_flavor(specs, model)
            self.assertIn(message, str(ctx.exception), specs)
