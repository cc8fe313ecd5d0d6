"""SNP launch digest parity with the ``sev-snp-measure`` package.

``sev-snp-measure`` (the test oracle only) and our code must agree bit for
bit on Debian sid's OVMF.amdsev.fd and bookworm's OVMF.fd across vCPU
counts, CPU models, VMM types and kernel hash inputs, and on synthetic
images everywhere.
"""

import itertools

import pytest

from buckypaper_os.attestation.snp import kernel_hashes
from buckypaper_os.attestation.snp import measure
from buckypaper_os.attestation.snp import vmsa
from tests.unit.measure import firmware

guest = pytest.importorskip('sevsnpmeasure.guest')
vmm_types = pytest.importorskip('sevsnpmeasure.vmm_types')
vcpu_types = pytest.importorskip('sevsnpmeasure.vcpu_types')

VCPUS = (1, 2, 3, 8, 64)
MODELS = ('EPYC-v4', 'EPYC-Rome', 'EPYC-Milan', 'EPYC-Genoa', 'EPYC-Turin')
VMMS = {'qemu': 'QEMU', 'ec2': 'ec2', 'gce': 'gce'}


@pytest.fixture(scope='module')
def kernel_files(tmp_path_factory):
    """Small synthetic kernel and initrd files."""
    directory = tmp_path_factory.mktemp('kernel')
    kernel = directory / 'vmlinuz'
    kernel.write_bytes(b'MZ' + bytes(range(256)) * 40)
    initrd = directory / 'initrd.img'
    initrd.write_bytes(b'070701' + b'\x5a' * 5000)
    return str(kernel), str(initrd)


def _kernel_inputs(kernel_files):
    kernel, initrd = kernel_files
    return [None, (kernel, None, None), (kernel, initrd, None),
            (kernel, initrd, 'console=ttyS0 root=/dev/vda1'),
            (kernel, None, '')]


def _oracle(path, vcpus, model, kernel=None, vmm='qemu', features=0x1):
    kernel, initrd, append = kernel or (None, None, None)
    return guest.snp_calc_launch_digest(
        vcpus, vcpu_types.CPU_SIGS[model], path, kernel, initrd, append,
        features, '', vmm_types.VMMType[VMMS[vmm]])


def _ours(path, vcpus, model, kernel=None, vmm='qemu', features=0x1):
    hashes = kernel_hashes.KernelHashes.from_files(*kernel) if kernel \
        else None
    return measure.launch_digest(path, vcpus, cpu_model=model,
                                 kernel_hashes=hashes, vmm=vmm,
                                 guest_features=features)


def test_cpu_models_match_the_oracle():
    for name, sig in vcpu_types.CPU_SIGS.items():
        assert vmsa.CPU_MODELS[name] == sig, name


@pytest.mark.parametrize('vmm', sorted(VMMS))
def test_sid_amdsev_parity(vmm, kernel_files):
    path = firmware.real_image(firmware.AMDSEV)
    for vcpus, model, kernel in itertools.product(
            VCPUS, MODELS, _kernel_inputs(kernel_files)):
        assert _ours(path, vcpus, model, kernel, vmm) == \
            _oracle(path, vcpus, model, kernel, vmm), (vcpus, model, kernel)


@pytest.mark.parametrize('vmm', sorted(VMMS))
def test_bookworm_ovmf_parity(vmm):
    path = firmware.real_image(firmware.BOOKWORM)
    for vcpus, model in itertools.product(VCPUS, MODELS):
        assert _ours(path, vcpus, model, None, vmm) == \
            _oracle(path, vcpus, model, None, vmm), (vcpus, model)


def test_bookworm_ovmf_cannot_measure_a_kernel(kernel_files):
    path = firmware.real_image(firmware.BOOKWORM)
    kernel = (kernel_files[0], None, None)
    with pytest.raises(Exception):
        _oracle(path, 1, 'EPYC-v4', kernel)
    with pytest.raises(measure.FirmwareError, match='directly booted'):
        _ours(path, 1, 'EPYC-v4', kernel)


def test_guest_features_parity():
    path = firmware.real_image(firmware.AMDSEV)
    for features in (0x1, 0x21, 0x3f):
        assert _ours(path, 4, 'EPYC-Milan', features=features) == \
            _oracle(path, 4, 'EPYC-Milan', features=features)


def test_cold_and_warm_agree():
    path = firmware.real_image(firmware.AMDSEV)
    measure.clear_cache()
    cold = _ours(path, 4, 'EPYC-Genoa')
    warm = _ours(path, 4, 'EPYC-Genoa')
    with open(path, 'rb') as f:
        from_bytes = measure.launch_digest(f.read(), 4,
                                           cpu_model='EPYC-Genoa')
    assert cold == warm == from_bytes == _oracle(path, 4, 'EPYC-Genoa')


def test_prefix_is_the_oracles_ovmf_hash():
    path = firmware.real_image(firmware.AMDSEV)
    assert measure.prepare(path).prefix == guest.calc_snp_ovmf_hash(path)


@pytest.mark.parametrize('seed', range(3))
def test_synthetic_parity(tmp_path, kernel_files, seed):
    path = tmp_path / 'ovmf.fd'
    path.write_bytes(firmware.sev_image(seed=seed))
    for vcpus, model, kernel, vmm in itertools.product(
            (1, 5), ('EPYC-v4', 'EPYC-Turin'), _kernel_inputs(kernel_files),
            sorted(VMMS)):
        assert _ours(str(path), vcpus, model, kernel, vmm) == \
            _oracle(str(path), vcpus, model, kernel, vmm)


def test_vmsa_pages_match_the_oracle():
    from sevsnpmeasure import sev_mode
    from sevsnpmeasure import vmsa as oracle_vmsa
    for vmm in VMMS:
        pages = oracle_vmsa.VMSA(sev_mode.SevMode.SEV_SNP, 0x80b004, 0xa00f11,
                                 0x1, vmm_types.VMMType[VMMS[vmm]]).pages(2)
        bsp, ap = list(pages)
        vmm_type = vmsa.VmmType(vmm)
        assert vmsa.build(vmsa.BSP_EIP, 0x1, 0xa00f11, vmm_type) == bsp
        assert vmsa.build(0x80b004, 0x1, 0xa00f11, vmm_type) == ap
