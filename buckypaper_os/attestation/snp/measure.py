"""The expected SEV-SNP launch digest (MEASUREMENT) of a QEMU/OVMF guest.

SEV-SNP firmware ABI specification, SNP_LAUNCH_UPDATE: every page added
before launch extends the launch digest ``LD`` with
``LD = SHA-384(PAGE_INFO)`` where the 112-byte ``PAGE_INFO`` is::

    LD (48) || CONTENTS (48) || u16 LENGTH=0x70 || u8 PAGE_TYPE || u8 IMI
    || u8 VMPL3/VMPL2/VMPL1 permissions || u8 reserved || u64 GPA

``CONTENTS`` is the SHA-384 of the page for normal and VMSA pages and zero
for the others. QEMU adds, in this order: the OVMF image (normal pages,
ending at 4 GiB), the pages of the image's SEV metadata sections (zero,
secrets, CPUID pages; the kernel hashes page as a normal page when a
kernel is booted directly) and one VMSA page per vCPU at GPA
``0xFFFFFFFFF000``.

The firmware pages come first and do not depend on the launch's other
inputs, so the digest after them is cached per image (keyed by a hash of
the image's contents; a file path is mapped to that key by its stat
identity). A computation for an image already seen only hashes what
follows: the metadata pages and the VMSAs.
"""

import collections
import dataclasses
import hashlib
import os
import threading
import typing

from buckypaper_os.attestation.firmware import FirmwareError
from buckypaper_os.attestation.snp import kernel_hashes as khashes
from buckypaper_os.attestation.snp import ovmf
from buckypaper_os.attestation.snp import vmsa

PAGE_SIZE = 4096
DIGEST_SIZE = 48
#: GPA recorded for VMSA pages: (u64)-1, page aligned, bits above 51 clear.
VMSA_GPA = 0xFFFFFFFFF000
#: SEV_FEATURES QEMU sets by default: SNPActive.
DEFAULT_GUEST_FEATURES = 0x1
#: The image size a measurement is computed for, at most.
MAX_IMAGE_SIZE = 64 << 20

# PAGE_TYPE values of SNP_LAUNCH_UPDATE.
PAGE_NORMAL = 0x01
PAGE_VMSA = 0x02
PAGE_ZERO = 0x03
PAGE_UNMEASURED = 0x04
PAGE_SECRETS = 0x05
PAGE_CPUID = 0x06

_ZEROS = bytes(DIGEST_SIZE)
# LENGTH, PAGE_TYPE, IMI=0, VMPL3/2/1 permissions=0, reserved=0.
_INFO = {t: (0x70).to_bytes(2, 'little') + bytes((t, 0, 0, 0, 0, 0))
         for t in range(1, 7)}
# Pages of flash images are mostly erased (0xff); their digest is known.
_ERASED_PAGE = b'\xff' * PAGE_SIZE
_ZERO_PAGE = bytes(PAGE_SIZE)
_KNOWN_PAGES = ((_ERASED_PAGE, hashlib.sha384(_ERASED_PAGE).digest()),
                (_ZERO_PAGE, hashlib.sha384(_ZERO_PAGE).digest()))

ImageSource = typing.Union[bytes, bytearray, str, os.PathLike,
                           'PreparedImage']


def extend(ld: bytes, page_type: int, gpa: int, contents: bytes) -> bytes:
    """One SNP_LAUNCH_UPDATE step: the digest after adding one page."""
    return hashlib.sha384(ld + contents + _INFO[page_type]
                          + gpa.to_bytes(8, 'little')).digest()


@dataclasses.dataclass(frozen=True)
class PreparedImage:
    """An OVMF image reduced to what the launch digest needs of it."""

    #: SHA-384 over the image size and the SHA-384 of each of its pages.
    key: bytes
    info: ovmf.SevFirmware
    #: The launch digest after the image's own pages.
    prefix: bytes


class _Cache:
    """Bounded, thread-safe caches of prepared images."""

    def __init__(self, size: int = 16):
        self._size = size
        self._lock = threading.Lock()
        self._images = collections.OrderedDict()   # key -> PreparedImage
        self._paths = {}                            # path -> (stat, key)
        self._metadata = {}                         # (key, vmm) -> state

    def clear(self) -> None:
        with self._lock:
            self._images.clear()
            self._paths.clear()
            self._metadata.clear()

    def image(self, key: bytes):
        with self._lock:
            image = self._images.get(key)
            if image is not None:
                self._images.move_to_end(key)
            return image

    def put_image(self, image: PreparedImage) -> None:
        with self._lock:
            self._images[image.key] = image
            while len(self._images) > self._size:
                old, _ = self._images.popitem(last=False)
                for k in [k for k in self._metadata if k[0] == old]:
                    del self._metadata[k]
                for p in [p for p, v in self._paths.items() if v[1] == old]:
                    del self._paths[p]

    def path_key(self, path: str, identity: tuple):
        with self._lock:
            found = self._paths.get(path)
        if found is not None and found[0] == identity:
            return found[1]
        return None

    def put_path(self, path: str, identity: tuple, key: bytes) -> None:
        with self._lock:
            self._paths[path] = (identity, key)

    def metadata(self, key: bytes, vmm):
        with self._lock:
            return self._metadata.get((key, vmm))

    def put_metadata(self, key: bytes, vmm, state) -> None:
        with self._lock:
            if key in self._images:
                self._metadata[(key, vmm)] = state


_CACHE = _Cache()


def clear_cache() -> None:
    """Forget every prepared image (the next computation is cold)."""
    _CACHE.clear()


def _page_digests(image: bytes) -> list:
    sha384 = hashlib.sha384
    view = memoryview(image)
    digests = []
    append = digests.append
    for offset in range(0, len(image), PAGE_SIZE):
        for page, digest in _KNOWN_PAGES:
            if image.startswith(page, offset):
                append(digest)
                break
        else:
            append(sha384(view[offset:offset + PAGE_SIZE]).digest())
    return digests


def _image_key(size: int, digests: list) -> bytes:
    return hashlib.sha384(size.to_bytes(8, 'little')
                          + b''.join(digests)).digest()


def _prepare_bytes(image: bytes) -> PreparedImage:
    image = bytes(image)
    if len(image) > MAX_IMAGE_SIZE:
        raise FirmwareError('firmware image of %d bytes is larger than %d'
                            % (len(image), MAX_IMAGE_SIZE))
    info = ovmf.parse(image)
    digests = _page_digests(image)
    key = _image_key(len(image), digests)
    cached = _CACHE.image(key)
    if cached is not None:
        return cached
    sha384 = hashlib.sha384
    info_normal = _INFO[PAGE_NORMAL]
    ld = _ZEROS
    gpa = info.gpa
    for digest in digests:
        ld = sha384(ld + digest + info_normal
                    + gpa.to_bytes(8, 'little')).digest()
        gpa += PAGE_SIZE
    prepared = PreparedImage(key, info, ld)
    _CACHE.put_image(prepared)
    return prepared


def prepare(source: ImageSource) -> PreparedImage:
    """Parse and digest an OVMF image given as bytes or a file path.

    Cached: an image seen before (same contents; for a path, the same file
    unchanged since) is not hashed again.
    """
    if isinstance(source, PreparedImage):
        return source
    if isinstance(source, (bytes, bytearray, memoryview)):
        return _prepare_bytes(source)
    path = os.fspath(source)
    try:
        with open(path, 'rb') as f:
            st = os.fstat(f.fileno())
            identity = (st.st_dev, st.st_ino, st.st_size, st.st_mtime_ns,
                        st.st_ctime_ns)
            key = _CACHE.path_key(path, identity)
            if key is not None:
                cached = _CACHE.image(key)
                if cached is not None:
                    return cached
            if st.st_size > MAX_IMAGE_SIZE:
                raise FirmwareError('firmware image %s is larger than %d '
                                    'bytes' % (path, MAX_IMAGE_SIZE))
            image = f.read(MAX_IMAGE_SIZE + 1)
    except OSError as exc:
        raise FirmwareError('cannot read firmware image %s: %s'
                            % (path, exc.strerror or exc)) from None
    prepared = _prepare_bytes(image)
    _CACHE.put_path(path, identity, prepared.key)
    return prepared


def _metadata_records(info: ovmf.SevFirmware, vmm: vmsa.VmmType) -> list:
    """The metadata pages as ``(page_type, gpa)`` in the order added.

    The kernel hashes page(s), whose type and contents depend on the
    launch, have ``None`` as type.
    """
    records = []
    cpuid = []
    for section in info.sections:
        pages = range(section.gpa, section.gpa + section.size, PAGE_SIZE)
        kind = section.type
        if kind == ovmf.SectionType.SNP_SEC_MEM:
            page_type = (PAGE_UNMEASURED if vmm is vmsa.VmmType.GCE
                         else PAGE_ZERO)
            records.extend((page_type, gpa) for gpa in pages)
        elif kind == ovmf.SectionType.SNP_SECRETS:
            records.append((PAGE_SECRETS, section.gpa))
        elif kind == ovmf.SectionType.CPUID:
            # EC2 adds the CPUID page after all the others.
            target = cpuid if vmm is vmsa.VmmType.EC2 else records
            target.append((PAGE_CPUID, section.gpa))
        elif kind == ovmf.SectionType.SNP_KERNEL_HASHES:
            records.extend((None, gpa) for gpa in pages)
        else:  # SVSM_CAA
            records.extend((PAGE_ZERO, gpa) for gpa in pages)
    return records + cpuid


def _metadata_state(image: PreparedImage, vmm: vmsa.VmmType) -> tuple:
    """The digest after the metadata pages independent of the launch.

    Returns that digest (after the pages that precede the first kernel
    hashes page) and the records left; cached per image and VMM.
    """
    state = _CACHE.metadata(image.key, vmm)
    if state is None:
        records = _metadata_records(image.info, vmm)
        ld = image.prefix
        done = 0
        for page_type, gpa in records:
            if page_type is None:
                break
            ld = extend(ld, page_type, gpa, _ZEROS)
            done += 1
        state = (ld, tuple(records[done:]))
        _CACHE.put_metadata(image.key, vmm, state)
    return state


def launch_digest(firmware: ImageSource, vcpus: int, *,
                  cpu_model: str = None, cpu_sig: int = None,
                  guest_features: int = DEFAULT_GUEST_FEATURES,
                  kernel_hashes: khashes.KernelHashes = None,
                  vmm: typing.Union[str, vmsa.VmmType] = vmsa.VmmType.QEMU
                  ) -> bytes:
    """The 48-byte SNP launch digest of a guest.

    ``firmware`` is the OVMF image (bytes, a path or a
    :class:`PreparedImage`), ``vcpus`` the vCPU count, ``cpu_model`` a
    QEMU CPU model name (or ``cpu_sig`` its CPUID signature),
    ``guest_features`` the VMSA SEV_FEATURES and ``kernel_hashes`` the
    hashes of a directly booted kernel. Raises :class:`FirmwareError` for
    an unusable image or inputs.
    """
    vmm = _vmm(vmm)
    if isinstance(vcpus, bool) or not isinstance(vcpus, int) or not (
            1 <= vcpus <= 4096):
        raise FirmwareError('vCPU count must be 1..4096, not %r' % (vcpus,))
    if cpu_sig is None:
        if cpu_model is None:
            raise FirmwareError('a CPU model or signature is required')
        cpu_sig = vmsa.cpu_model_signature(cpu_model)
    elif cpu_model is not None:
        raise FirmwareError('give a CPU model or a signature, not both')
    if not 0 <= cpu_sig < 1 << 32:
        raise FirmwareError('CPU signature %r is out of range' % (cpu_sig,))
    if not 0 <= guest_features < 1 << 64:
        raise FirmwareError('guest features %r are out of range'
                            % (guest_features,))
    image = prepare(firmware)
    info = image.info
    if kernel_hashes is not None and not info.supports_kernel_hashes:
        raise FirmwareError('the firmware cannot measure a directly booted '
                            'kernel: it has no SEV hash table and kernel '
                            'hashes section')
    if vcpus > 1 and not info.ap_eip:
        raise FirmwareError('the firmware has no SEV-ES reset block for '
                            'application processors')
    ld, rest = _metadata_state(image, vmm)
    for page_type, gpa in rest:
        if page_type is not None:
            ld = extend(ld, page_type, gpa, _ZEROS)
        elif kernel_hashes is None:
            ld = extend(ld, PAGE_ZERO, gpa, _ZEROS)
        else:
            page = _hashes_page(info, gpa, kernel_hashes)
            ld = extend(ld, PAGE_NORMAL, gpa, hashlib.sha384(page).digest())
    bsp = vmsa.page_digest(vmsa.BSP_EIP, guest_features, cpu_sig, vmm)
    ld = extend(ld, PAGE_VMSA, VMSA_GPA, bsp)
    if vcpus > 1:
        ap = vmsa.page_digest(info.ap_eip, guest_features, cpu_sig, vmm)
        for _ in range(vcpus - 1):
            ld = extend(ld, PAGE_VMSA, VMSA_GPA, ap)
    return ld


def _hashes_page(info: ovmf.SevFirmware, gpa: int,
                 hashes: khashes.KernelHashes) -> bytes:
    table = info.hashes_table_gpa
    if table & ~(PAGE_SIZE - 1) != gpa:
        raise FirmwareError('the SEV hash table (%#x) is not in the kernel '
                            'hashes page %#x' % (table, gpa))
    return hashes.page(table & (PAGE_SIZE - 1))


def _vmm(value) -> vmsa.VmmType:
    if isinstance(value, vmsa.VmmType):
        return value
    try:
        return vmsa.VmmType(str(value).lower())
    except ValueError:
        raise FirmwareError('unknown VMM type %r (known: %s)' % (
            value, ', '.join(v.value for v in vmsa.VmmType))) from None
