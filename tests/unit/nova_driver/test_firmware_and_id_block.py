"""Firmware catalog, SNP ID block / ID auth, measurement adapter, alias."""

import hashlib
import json
import os
import struct
import tempfile
import unittest
from unittest import mock

from tests.unit.nova_driver import base  # noqa: F401  (skips without nova)

from cryptography.hazmat.primitives.asymmetric import ec

from buckypaper_os.nova_driver import cmd
from buckypaper_os.nova_driver import firmware
from buckypaper_os.nova_driver import id_block
from buckypaper_os.nova_driver import measurement


class TestCatalog(unittest.TestCase):

    def setUp(self):
        self.dir = tempfile.TemporaryDirectory()
        self.addCleanup(self.dir.cleanup)
        self.image = os.urandom(8192)
        self.path = os.path.join(self.dir.name, 'OVMF.fd')
        with open(self.path, 'wb') as f:
            f.write(self.image)
        self.entry = {'name': 'ovmf', 'path': self.path,
                      'sha384': hashlib.sha384(self.image).hexdigest(),
                      'tees': ['sev-snp', 'tdx']}

    def _write(self, data, name='catalog.json'):
        path = os.path.join(self.dir.name, name)
        with open(path, 'w') as f:
            f.write(data if isinstance(data, str) else json.dumps(data))
        return path

    def test_json_and_yaml(self):
        catalog = firmware.Catalog.load(self._write({'firmware': [
            self.entry]}))
        self.assertEqual(['ovmf'], catalog.names())
        yaml_text = ('firmware:\n  - name: ovmf\n    path: %s\n'
                     '    sha384: %s\n    tees: [tdx]\n'
                     % (self.path, self.entry['sha384']))
        catalog = firmware.Catalog.load(self._write(yaml_text, 'c.yaml'))
        self.assertEqual(('tdx',), catalog.select('tdx').tees)

    def test_select_and_verify(self):
        other = dict(self.entry, name='other', tees=['tdx'])
        catalog = firmware.Catalog.load(self._write({'firmware': [
            self.entry, other]}))
        self.assertEqual('ovmf', catalog.select('sev-snp').name)
        self.assertEqual('other', catalog.select('tdx', 'other').name)
        self.assertEqual('other', catalog.select('tdx', None, 'other').name)
        self.assertEqual(self.image, catalog.verify(catalog.select('tdx')))
        for args, message in [(('sev-snp', 'other'), 'does not support'),
                              (('tdx', 'nope'), 'not in the catalog')]:
            with self.assertRaises(firmware.CatalogError) as ctx:
                catalog.select(*args)
            self.assertIn(message, str(ctx.exception))

    def test_tampered_image_refused(self):
        catalog = firmware.Catalog.load(self._write({'firmware': [
            self.entry]}))
        with open(self.path, 'r+b') as f:
            # Flip the first byte: writing a fixed one left the random
            # image unchanged once in 256 runs.
            f.write(bytes([self.image[0] ^ 0xFF]))
        with self.assertRaises(firmware.CatalogError) as ctx:
            catalog.verify(catalog.select('tdx'))
        self.assertIn('SHA-384', str(ctx.exception))
        os.unlink(self.path)
        self.assertRaises(firmware.CatalogError, catalog.verify,
                          catalog.select('tdx'))

    def test_invalid_catalogs(self):
        for data, message in [
                ('{', 'not valid'), ({'fw': []}, 'no "firmware"'),
                ({'firmware': [dict(self.entry, sha384='ab')]}, 'sha384'),
                ({'firmware': [dict(self.entry, path='rel.fd')]},
                 'absolute'),
                ({'firmware': [dict(self.entry, tees=['sev'])]}, 'tees'),
                ({'firmware': [dict(self.entry, extra=1)]}, 'unknown keys'),
                ({'firmware': [self.entry, self.entry]}, 'twice')]:
            with self.assertRaises(firmware.CatalogError) as ctx:
                firmware.Catalog.load(self._write(data))
            self.assertIn(message, str(ctx.exception), data)
        self.assertRaises(firmware.CatalogError, firmware.Catalog.load,
                          '/nonexistent/catalog.json')


class TestIdBlock(unittest.TestCase):

    def test_layout_and_signature(self):
        key = ec.generate_private_key(ec.SECP384R1())
        ld = bytes(range(48))
        block = id_block.build_id_block(ld, 0x30000, id_block.image_id('fw'))
        self.assertEqual(96, len(block))
        self.assertEqual(ld, block[:48])
        self.assertEqual(id_block.FAMILY_ID, block[48:64])
        self.assertEqual((1, 0, 0x30000),
                         struct.unpack_from('<IIQ', block, 80))
        auth = id_block.build_id_auth(block, key)
        self.assertEqual(4096, len(auth))
        self.assertEqual((1, 0), struct.unpack_from('<II', auth, 0))
        self.assertEqual(2, struct.unpack_from('<I', auth, 0x240)[0])
        self.assertTrue(id_block.verify_id_auth(block, auth))
        self.assertFalse(id_block.verify_id_auth(block[:-1] + b'\1', auth))
        self.assertEqual(48, len(id_block.id_key_digest(key.public_key())))

    def test_wrong_key_refused(self):
        key = ec.generate_private_key(ec.SECP256R1())
        block = id_block.build_id_block(b'\0' * 48, 0x30000, b'\0' * 16)
        self.assertRaises(ValueError, id_block.build_id_auth, block, key)
        self.assertRaises(ValueError, id_block.build_id_block, b'\0' * 32,
                          0, b'\0' * 16)


class TestMeasurementAdapter(unittest.TestCase):

    def test_calls_the_attestation_modules(self):
        from buckypaper_os.attestation.snp import kernel_hashes
        with mock.patch('buckypaper_os.attestation.snp.measure.'
                        'launch_digest', return_value=b'\1' * 48) as snp, \
                mock.patch('buckypaper_os.attestation.tdx.measure.mrtd',
                           return_value=b'\2' * 48) as tdx, \
                tempfile.NamedTemporaryFile() as kernel:
            kernel.write(b'kernel')
            kernel.flush()
            measurer = measurement.AttestationMeasurer()
            self.assertEqual(b'\1' * 48, measurer.snp(measurement.SNPLaunch(
                b'fw', 4, 'EPYC-v4', kernel.name, None, 'ro')))
            snp.assert_called_once_with(
                b'fw', 4, cpu_model='EPYC-v4',
                kernel_hashes=kernel_hashes.KernelHashes.of(b'kernel', b'',
                                                            'ro'))
            measurer.snp(measurement.SNPLaunch(b'fw', 1, 'EPYC'))
            self.assertIsNone(snp.call_args.kwargs['kernel_hashes'])
            self.assertEqual(b'\2' * 48,
                             measurer.tdx(measurement.TDXLaunch(b'fw')))
            tdx.assert_called_once_with(b'fw')

    def test_failures_are_errors(self):
        measurer = measurement.AttestationMeasurer()
        for launch in (measurement.SNPLaunch(b'not ovmf', 1, 'EPYC-v4'),
                       measurement.SNPLaunch(b'fw', 1, 'EPYC-v4',
                                             '/nonexistent')):
            self.assertRaises(measurement.MeasurementError, measurer.snp,
                              launch)
        self.assertRaises(measurement.MeasurementError, measurer.tdx,
                          measurement.TDXLaunch(b'not tdvf'))
        with mock.patch('buckypaper_os.attestation.tdx.measure.mrtd',
                        return_value=b'short'):
            self.assertRaises(measurement.MeasurementError, measurer.tdx,
                              measurement.TDXLaunch(b'fw'))

    def test_set_measurer(self):
        fake = object()
        previous = measurement.set_measurer(fake)
        self.addCleanup(measurement.set_measurer, previous)
        self.assertIs(fake, measurement.get_measurer())


class TestAlias(unittest.TestCase):

    def test_nova_loads_the_driver_by_alias(self):
        from oslo_utils import importutils
        cmd.register_alias()
        from buckypaper_os.nova_driver import driver
        self.assertIs(driver.BuckypaperLibvirtDriver,
                      importutils.import_class(
                          'nova.virt.' + cmd.COMPUTE_DRIVER))
