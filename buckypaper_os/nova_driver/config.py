"""libvirt config objects for the launch security elements Nova lacks.

Upstream Nova 34 formats ``<launchSecurity type='sev-snp'>`` with a fixed
policy and ``<launchSecurity type='tdx'>`` with no policy at all, and parses
neither. These classes add, one small class per element, what libvirt 12
accepts (``domaincommon.rng``, ``launchSecuritySEVSNP`` and
``launchSecurityTDX``)::

    <launchSecurity type='sev-snp' kernelHashes='yes' authorKey='no'
                    vcek='yes'>
      <policy>0x...</policy>          SNP guest policy (hex)
      <idBlock>base64</idBlock>       96-byte ID block
      <idAuth>base64</idAuth>         4096-byte ID authentication structure
      <hostData>base64</hostData>     32-byte HOST_DATA
    </launchSecurity>

    <launchSecurity type='tdx'>
      <policy>0x...</policy>          TD attributes (hex)
      <mrConfigId>base64</mrConfigId> 48 bytes
      <mrOwner>base64</mrOwner>       48 bytes
      <mrOwnerConfig>base64</mrOwnerConfig> 48 bytes
      <quoteGenerationService path='...'/>
    </launchSecurity>

Each class formats and parses its element; the launch security classes
extend upstream's so that Nova's driver code keeps working with them.
"""

import base64
import binascii

from lxml import etree
from nova import exception
from nova.virt.libvirt import config as vconfig

# SNP guest policy (SEV-SNP firmware ABI, table "Guest Policy Structure").
SNP_POLICY_ABI_MINOR_MASK = 0xff
SNP_POLICY_ABI_MAJOR_SHIFT = 8
SNP_POLICY_ABI_MAJOR_MASK = 0xff << 8
SNP_POLICY_SMT = 1 << 16
SNP_POLICY_RESERVED_1 = 1 << 17
SNP_POLICY_MIGRATE_MA = 1 << 18
SNP_POLICY_DEBUG = 1 << 19
SNP_POLICY_SINGLE_SOCKET = 1 << 20
SNP_POLICY_CXL_ALLOW = 1 << 21
SNP_POLICY_MEM_AES_256_XTS = 1 << 22
SNP_POLICY_RAPL_DIS = 1 << 23
SNP_POLICY_CIPHERTEXT_HIDING = 1 << 24
SNP_POLICY_PAGE_SWAP_DISABLE = 1 << 25
#: Bits a policy may carry; the others are reserved and must be zero.
SNP_POLICY_KNOWN = ((1 << 26) - 1)

# TD attributes (Intel TDX module ABI, TDATTRIBUTES).
TDX_POLICY_DEBUG = 1 << 0
TDX_POLICY_SEPT_VE_DISABLE = 1 << 28

HOST_DATA_SIZE = 32
ID_BLOCK_SIZE = 96
ID_AUTH_SIZE = 4096
TDX_MR_SIZE = 48


def _invalid(message, *args):
    return exception.InvalidInput(reason=message % args)


def _parse_hex(text, element):
    value = (text or '').strip()
    try:
        return int(value, 16)
    except ValueError:
        raise _invalid('<%s> is not a hexadecimal number: %r', element,
                       value) from None


class _Base64Element(vconfig.LibvirtConfigObject):
    """An element whose text is a fixed-size byte string in base64."""

    ELEMENT = None
    SIZE = None

    def __init__(self, value=None, **kwargs):
        super().__init__(root_name=self.ELEMENT, **kwargs)
        self.value = value

    @property
    def value(self):
        return self._value

    @value.setter
    def value(self, data):
        if data is not None:
            data = bytes(data)
            if len(data) != self.SIZE:
                raise _invalid('<%s> must be %d bytes, not %d',
                               self.ELEMENT, self.SIZE, len(data))
        self._value = data

    def format_dom(self):
        if self.value is None:
            raise _invalid('<%s> has no value', self.ELEMENT)
        root = super().format_dom()
        root.text = base64.b64encode(self.value).decode('ascii')
        return root

    def parse_dom(self, xmldoc):
        super().parse_dom(xmldoc)
        text = ''.join((xmldoc.text or '').split())
        try:
            data = base64.b64decode(text, validate=True)
        except (binascii.Error, ValueError):
            raise _invalid('<%s> is not base64', self.ELEMENT) from None
        self.value = data


class LibvirtConfigGuestSEVSNPHostData(_Base64Element):
    """``<hostData>``: the 32-byte HOST_DATA of an SNP guest."""

    ELEMENT = 'hostData'
    SIZE = HOST_DATA_SIZE


class LibvirtConfigGuestSEVSNPIdBlock(_Base64Element):
    """``<idBlock>``: the 96-byte ID block (LD, family, image, policy)."""

    ELEMENT = 'idBlock'
    SIZE = ID_BLOCK_SIZE


class LibvirtConfigGuestSEVSNPIdAuth(_Base64Element):
    """``<idAuth>``: the 4096-byte ID authentication information."""

    ELEMENT = 'idAuth'
    SIZE = ID_AUTH_SIZE


class LibvirtConfigGuestTDXMrConfigId(_Base64Element):
    """``<mrConfigId>``: the 48-byte MRCONFIGID of a TD."""

    ELEMENT = 'mrConfigId'
    SIZE = TDX_MR_SIZE


class LibvirtConfigGuestTDXMrOwner(_Base64Element):
    """``<mrOwner>``: the 48-byte MROWNER of a TD."""

    ELEMENT = 'mrOwner'
    SIZE = TDX_MR_SIZE


class LibvirtConfigGuestTDXMrOwnerConfig(_Base64Element):
    """``<mrOwnerConfig>``: the 48-byte MROWNERCONFIG of a TD."""

    ELEMENT = 'mrOwnerConfig'
    SIZE = TDX_MR_SIZE


class LibvirtConfigGuestSEVSNPPolicy(vconfig.LibvirtConfigObject):
    """``<policy>`` of an SNP guest, with its bits by name.

    Reserved bit 17 is always set (the firmware requires it) and unknown
    bits are refused, so a policy formatted here is one the AMD SP accepts.
    """

    def __init__(self, value=SNP_POLICY_SMT | SNP_POLICY_RESERVED_1,
                 **kwargs):
        super().__init__(root_name='policy', **kwargs)
        self.value = value

    @property
    def value(self):
        return self._value

    @value.setter
    def value(self, value):
        value = int(value)
        if value < 0 or value & ~SNP_POLICY_KNOWN:
            raise _invalid('SNP policy 0x%x has reserved bits set', value)
        self._value = value | SNP_POLICY_RESERVED_1

    def _bit(self, bit):
        return bool(self._value & bit)

    def _set_bit(self, bit, on):
        self._value = (self._value | bit) if on else (self._value & ~bit)

    abi_minor = property(
        lambda self: self._value & SNP_POLICY_ABI_MINOR_MASK)
    abi_major = property(
        lambda self: (self._value & SNP_POLICY_ABI_MAJOR_MASK)
        >> SNP_POLICY_ABI_MAJOR_SHIFT)

    def set_min_abi(self, major, minor):
        """Set the minimum firmware ABI version (major.minor) required."""
        if not (0 <= major <= 0xff and 0 <= minor <= 0xff):
            raise _invalid('SNP ABI version %s.%s out of range', major, minor)
        self._value = ((self._value & ~0xffff)
                       | (major << SNP_POLICY_ABI_MAJOR_SHIFT) | minor)

    smt = property(lambda self: self._bit(SNP_POLICY_SMT),
                   lambda self, on: self._set_bit(SNP_POLICY_SMT, on))
    debug = property(lambda self: self._bit(SNP_POLICY_DEBUG),
                     lambda self, on: self._set_bit(SNP_POLICY_DEBUG, on))
    migrate_ma = property(
        lambda self: self._bit(SNP_POLICY_MIGRATE_MA),
        lambda self, on: self._set_bit(SNP_POLICY_MIGRATE_MA, on))
    single_socket = property(
        lambda self: self._bit(SNP_POLICY_SINGLE_SOCKET),
        lambda self, on: self._set_bit(SNP_POLICY_SINGLE_SOCKET, on))
    ciphertext_hiding = property(
        lambda self: self._bit(SNP_POLICY_CIPHERTEXT_HIDING),
        lambda self, on: self._set_bit(SNP_POLICY_CIPHERTEXT_HIDING, on))
    page_swap_disable = property(
        lambda self: self._bit(SNP_POLICY_PAGE_SWAP_DISABLE),
        lambda self, on: self._set_bit(SNP_POLICY_PAGE_SWAP_DISABLE, on))

    def format_dom(self):
        root = super().format_dom()
        root.text = '0x%08x' % self._value
        return root

    def parse_dom(self, xmldoc):
        super().parse_dom(xmldoc)
        self.value = _parse_hex(xmldoc.text, 'policy')


class LibvirtConfigGuestTDXPolicy(vconfig.LibvirtConfigObject):
    """``<policy>`` of a TD: its TD attributes (DEBUG, SEPT_VE_DISABLE)."""

    def __init__(self, value=TDX_POLICY_SEPT_VE_DISABLE, **kwargs):
        super().__init__(root_name='policy', **kwargs)
        self.value = value

    @property
    def value(self):
        return self._value

    @value.setter
    def value(self, value):
        value = int(value)
        if not 0 <= value < 1 << 64:
            raise _invalid('TDX policy 0x%x out of range', value)
        self._value = value

    debug = property(lambda self: bool(self._value & TDX_POLICY_DEBUG))
    sept_ve_disable = property(
        lambda self: bool(self._value & TDX_POLICY_SEPT_VE_DISABLE))

    def format_dom(self):
        root = super().format_dom()
        root.text = '0x%08x' % self._value
        return root

    def parse_dom(self, xmldoc):
        super().parse_dom(xmldoc)
        self.value = _parse_hex(xmldoc.text, 'policy')


class LibvirtConfigGuestTDXQuoteGenerationService(
        vconfig.LibvirtConfigObject):
    """``<quoteGenerationService path=...>``; libvirt's default path."""

    def __init__(self, path=None, **kwargs):
        super().__init__(root_name='quoteGenerationService', **kwargs)
        self.path = path

    def format_dom(self):
        root = super().format_dom()
        if self.path:
            root.set('path', self.path)
        return root

    def parse_dom(self, xmldoc):
        super().parse_dom(xmldoc)
        self.path = xmldoc.get('path')


def _yes_no(root, name, default):
    value = root.get(name)
    if value is None:
        return default
    if value not in ('yes', 'no'):
        raise _invalid('%s must be yes or no, not %r', name, value)
    return value == 'yes'


def _child(obj_class, value):
    return None if value is None else obj_class(value).format_dom()


def _parse_child(obj_class, node):
    obj = obj_class()
    obj.parse_dom(node)
    return obj.value


class BuckypaperSEVSNPLaunchSecurity(
        vconfig.LibvirtConfigGuestSEVSNPLaunchSecurity):
    """``<launchSecurity type='sev-snp'>`` with policy, binding and ID block.

    ``policy`` stays an integer, as upstream has it; ``host_data``,
    ``id_block`` and ``id_auth`` are bytes or None.
    """

    _CHILDREN = (
        ('host_data', LibvirtConfigGuestSEVSNPHostData),
        ('id_block', LibvirtConfigGuestSEVSNPIdBlock),
        ('id_auth', LibvirtConfigGuestSEVSNPIdAuth),
    )

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.host_data = None
        self.id_block = None
        self.id_auth = None

    def format_dom(self):
        if (self.id_block is None) != (self.id_auth is None):
            raise _invalid('an SNP ID block needs its ID auth and vice versa')
        root = super().format_dom()
        # Upstream formats the policy itself; ours checks its bits.
        old = root.find('policy')
        new = LibvirtConfigGuestSEVSNPPolicy(self.policy).format_dom()
        if old is not None:
            old.addprevious(new)
            root.remove(old)
        else:
            root.append(new)
        for attr, obj_class in self._CHILDREN:
            node = _child(obj_class, getattr(self, attr))
            if node is not None:
                root.append(node)
        return root

    def parse_dom(self, xmldoc):
        super().parse_dom(xmldoc)
        if xmldoc.get('type') != 'sev-snp':
            raise _invalid('launchSecurity type %r is not sev-snp',
                           xmldoc.get('type'))
        self.kernelHashes = _yes_no(xmldoc, 'kernelHashes', False)
        self.authorKey = _yes_no(xmldoc, 'authorKey', False)
        self.vcek = _yes_no(xmldoc, 'vcek', True)
        classes = dict((obj_class.ELEMENT, (attr, obj_class))
                       for attr, obj_class in self._CHILDREN)
        self.policy = None
        for child in xmldoc:
            if child.tag == 'policy':
                self.policy = _parse_child(LibvirtConfigGuestSEVSNPPolicy,
                                           child)
            elif child.tag in classes:
                attr, obj_class = classes[child.tag]
                setattr(self, attr, _parse_child(obj_class, child))
        if self.policy is None:
            raise _invalid('sev-snp launchSecurity has no policy')


class BuckypaperTDXLaunchSecurity(vconfig.LibvirtConfigGuestTDXLaunchSecurity):
    """``<launchSecurity type='tdx'>`` with policy and the MR fields.

    ``policy`` is an integer (None leaves QEMU's default); ``mr_config_id``,
    ``mr_owner`` and ``mr_owner_config`` are bytes or None.
    """

    _CHILDREN = (
        ('mr_config_id', LibvirtConfigGuestTDXMrConfigId),
        ('mr_owner', LibvirtConfigGuestTDXMrOwner),
        ('mr_owner_config', LibvirtConfigGuestTDXMrOwnerConfig),
    )

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.policy = None
        self.mr_config_id = None
        self.mr_owner = None
        self.mr_owner_config = None
        self.qgs_path = None

    def format_dom(self):
        root = super().format_dom()
        qgs = root.find('quoteGenerationService')
        if qgs is not None:
            root.remove(qgs)
        if self.policy is not None:
            root.append(LibvirtConfigGuestTDXPolicy(self.policy).format_dom())
        for attr, obj_class in self._CHILDREN:
            node = _child(obj_class, getattr(self, attr))
            if node is not None:
                root.append(node)
        root.append(LibvirtConfigGuestTDXQuoteGenerationService(
            self.qgs_path).format_dom())
        return root

    def parse_dom(self, xmldoc):
        super().parse_dom(xmldoc)
        if xmldoc.get('type') != 'tdx':
            raise _invalid('launchSecurity type %r is not tdx',
                           xmldoc.get('type'))
        classes = dict((obj_class.ELEMENT, (attr, obj_class))
                       for attr, obj_class in self._CHILDREN)
        for child in xmldoc:
            if child.tag == 'policy':
                self.policy = _parse_child(LibvirtConfigGuestTDXPolicy, child)
            elif child.tag == 'quoteGenerationService':
                qgs = LibvirtConfigGuestTDXQuoteGenerationService()
                qgs.parse_dom(child)
                self.qgs_path = qgs.path
            elif child.tag in classes:
                attr, obj_class = classes[child.tag]
                setattr(self, attr, _parse_child(obj_class, child))


def parse_launch_security(xml):
    """The launch security object of a ``<launchSecurity>`` element.

    ``xml`` is a string or an lxml element; returns None for types other
    than sev-snp and tdx.
    """
    node = etree.fromstring(xml) if isinstance(xml, (str, bytes)) else xml
    obj_class = {'sev-snp': BuckypaperSEVSNPLaunchSecurity,
                 'tdx': BuckypaperTDXLaunchSecurity}.get(node.get('type'))
    if obj_class is None:
        return None
    obj = obj_class()
    obj.parse_dom(node)
    return obj
