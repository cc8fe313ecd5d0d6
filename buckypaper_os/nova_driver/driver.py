"""The buckypaper libvirt compute driver: attested confidential guests.

:class:`BuckypaperLibvirtDriver` is Nova's libvirt driver plus, for guests
that upstream launches as AMD SEV-SNP or Intel TDX:

* the guest policy: debugging never allowed; SNP SMT, single socket,
  ciphertext hiding and minimum ABI from the flavor; TDX SEPT_VE_DISABLE;
* the instance binding of :mod:`buckypaper_os.binding`: SNP ``hostData``,
  TDX ``mrConfigId`` and ``mrOwner``;
* measured stateless firmware from the operator's catalog, checked against
  its SHA-384, and SNP ``kernelHashes`` for direct kernel boot;
* optionally an SNP ID block and ID auth signed with the operator's ID key;
* registration of the expected measurement, binding and appraisal policy
  with Nitride before the domain is defined (no registration, no boot),
  and its removal when the instance is deleted;
* with ``buckypaper:disk_key=generate``, the instance's disk key created
  in Barbican with the user's token and bound to the instance
  (:mod:`.disk_key`); its reference and Nitride's guest API URL go into
  the server metadata the enclaivelet reads (config drive or metadata
  service). No key, no boot; the key is deleted with the server unless
  ``buckypaper:disk_key_on_delete=keep``.

Nova imports compute drivers from ``nova.virt`` only: run nova-compute as
``buckypaper-nova-compute`` with ``compute_driver =
buckypaper.BuckypaperLibvirtDriver`` (see :mod:`.cmd`).
"""

import dataclasses
import os
import threading
import typing

from keystoneauth1 import loading as ks_loading
from nova.compute import task_states
from nova import exception
from nova import service_auth
from nova.virt.libvirt import config as vconfig
from nova.virt.libvirt import driver as libvirt_driver
from oslo_config import cfg
from oslo_context import context as context_mod
from oslo_log import log as logging

from buckypaper_os import binding
from buckypaper_os.conf import compute as compute_conf
from buckypaper_os.conf import nitride as nitride_conf
from buckypaper_os.nitride_service import rpc as nitride_rpc
from buckypaper_os.nitride_service import rpcapi as nitride_rpcapi
from buckypaper_os.nova_driver import config as bconfig
from buckypaper_os.nova_driver import disk_key as disk_key_mod
from buckypaper_os.nova_driver import extra_specs
from buckypaper_os.nova_driver import firmware as firmware_mod
from buckypaper_os.nova_driver import id_block as id_block_mod
from buckypaper_os.nova_driver import measurement

CONF = cfg.CONF
LOG = logging.getLogger(__name__)

#: system_metadata key recording the TEE an instance was registered as.
SYSMETA_TEE = 'buckypaper_tee'
#: system_metadata keys: a generated disk key and what its delete does.
SYSMETA_DISK_KEY = 'buckypaper_disk_key'
SYSMETA_DISK_KEY_ON_DELETE = 'buckypaper_disk_key_on_delete'
#: Server metadata keys the enclaivelet reads (enclaivelet.config).
META_SECRET = 'buckypaper_secret'
META_NITRIDE_URL = 'buckypaper_nitride_url'
_MODEL_KEYS = ('hw:mem_encryption_model',)
_IMAGE_MODEL_KEY = 'image_hw_mem_encryption_model'


class NitrideRegistrationFailed(exception.BuildAbortException):
    # A build abort: the fault names the reason, and other hosts would
    # reach the same Nitride, so the build is not rescheduled.
    msg_fmt = ('Registration of instance %(instance_uuid)s with the Nitride '
               'verifier failed, so it is not launched: %(reason)s')


class DiskKeyFailed(exception.BuildAbortException):
    msg_fmt = ('The disk key of instance %(instance_uuid)s could not be '
               'created, so it is not launched: %(reason)s')


class NitrideRemovalFailed(exception.NovaException):
    msg_fmt = ('Removal of instance %(instance)s from the Nitride verifier '
               'failed: %(reason)s')


@dataclasses.dataclass
class Launch:
    """What is registered with Nitride before a guest's domain is made."""

    tee: str
    project_id: str
    flavor_id: typing.Optional[str]
    measurement: bytes
    binding: bytes
    policy: dict
    attestation: bool
    disk_key: bool = False
    disk_key_on_delete: str = 'delete'
    min_tcb: dict = dataclasses.field(default_factory=dict)


def _service_context(context):
    """A context for Nitride's administrative calls, traced to ``context``."""
    return context_mod.RequestContext(
        user_name='nova-compute', roles=['service'],
        request_id=getattr(context, 'request_id', None),
        global_request_id=getattr(context, 'global_request_id', None))


def _invalid(reason):
    # InvalidInput aborts the build without rescheduling: every host would
    # refuse the same flavor, catalog or key.
    return exception.InvalidInput(reason=reason)


def _tee_of(launch_security):
    if isinstance(launch_security,
                  vconfig.LibvirtConfigGuestSEVSNPLaunchSecurity):
        return binding.SNP, 'amd-sev-snp'
    if isinstance(launch_security,
                  vconfig.LibvirtConfigGuestTDXLaunchSecurity):
        return binding.TDX, 'intel-tdx'
    if isinstance(launch_security,
                  vconfig.LibvirtConfigGuestSEVLaunchSecurity):
        return None, 'amd-sev'
    return None, None


def _firmware_only(instance, options, why: str) -> None:
    """An attested guest measured up to its firmware: refuse or say so."""
    if not options.attestation:
        return
    if CONF.buckypaper_compute.require_measured_os:
        raise _invalid('the launch measurement would cover only the '
                       'firmware: the guest %s; [buckypaper_compute] '
                       'require_measured_os is set' % why)
    LOG.info('The launch measurement covers only the firmware: the guest '
             '%s', why, instance=instance)


def _requested_models(instance) -> typing.List[typing.Optional[str]]:
    """The memory encryption models the flavor and the image ask for."""
    models = [instance.flavor.extra_specs.get(k) for k in _MODEL_KEYS]
    models.append((instance.system_metadata or {}).get(_IMAGE_MODEL_KEY))
    return models


def _launch(tee, instance, digest, binding_value, document, options):
    return Launch(tee, instance.project_id, instance.flavor.flavorid,
                  digest, binding_value, document, options.attestation,
                  options.disk_key, options.disk_key_on_delete,
                  dict(options.min_tcb))


class BuckypaperLibvirtDriver(libvirt_driver.LibvirtDriver):
    """LibvirtDriver that launches attested SEV-SNP and TDX guests."""

    def __init__(self, virtapi, read_only=False):
        compute_conf.register_opts(CONF)
        nitride_conf.register_opts(CONF)
        super().__init__(virtapi, read_only)
        self._launches: typing.Dict[str, Launch] = {}
        self._launch_lock = threading.Lock()
        self._catalog = None
        self._catalog_key = None
        self._nitride = None

    # -- configuration --------------------------------------------------

    def _firmware_catalog(self) -> firmware_mod.Catalog:
        path = CONF.buckypaper_compute.firmware_catalog
        if not path:
            raise _invalid('confidential guests need a measured firmware '
                           'catalog: set [buckypaper_compute] '
                           'firmware_catalog')
        try:
            st = os.stat(path)
            key = (path, st.st_ino, st.st_size, st.st_mtime_ns)
        except OSError as exc:
            raise _invalid('cannot read firmware catalog %s: %s'
                           % (path, exc.strerror))
        if self._catalog is None or self._catalog_key != key:
            try:
                self._catalog = firmware_mod.Catalog.load(path)
            except firmware_mod.CatalogError as exc:
                raise _invalid(str(exc))
            self._catalog_key = key
        return self._catalog

    def _nitride_api(self) -> nitride_rpcapi.NitrideAPI:
        if self._nitride is None:
            transport = nitride_rpc.get_transport(
                CONF, url=CONF.buckypaper_compute.nitride_transport_url)
            self._nitride = nitride_rpcapi.NitrideAPI(CONF,
                                                      transport=transport)
        return self._nitride

    # -- guest config ---------------------------------------------------

    def _get_guest_config(self, instance, network_info, image_meta,
                          disk_info, *args, **kwargs):
        guest = super()._get_guest_config(instance, network_info, image_meta,
                                          disk_info, *args, **kwargs)
        tee, model = _tee_of(guest.launch_security)
        requested = [m for m in _requested_models(instance)
                     if m in extra_specs.MODEL_TEE]
        if requested and requested[0] != model:
            # Nova builds no launch security without hw:mem_encryption=true.
            raise _invalid(
                'flavor %s or image asks for %s memory encryption, but the '
                'guest would boot %s; set hw:mem_encryption=true'
                % (instance.flavor.name, requested[0],
                   'with %s' % model if model else 'without it'))
        try:
            options = extra_specs.check_flavor(
                extra_specs.merge_image_properties(
                    instance.flavor.extra_specs, instance.system_metadata),
                model)
        except exception.ValidationError as exc:
            raise _invalid('flavor %s or image: %s'
                           % (instance.flavor.name, exc))
        if options is None:
            return guest
        entry, image = self._configure_firmware(guest, tee, options)
        if tee == binding.SNP:
            launch = self._configure_snp(instance, guest, options, entry,
                                         image)
        else:
            launch = self._configure_tdx(instance, guest, options, image)
        with self._launch_lock:
            self._launches[instance.uuid] = launch
        return guest

    def _configure_firmware(self, guest, tee, options):
        catalog = self._firmware_catalog()
        default = (CONF.buckypaper_compute.default_snp_firmware
                   if tee == binding.SNP
                   else CONF.buckypaper_compute.default_tdx_firmware)
        try:
            entry = catalog.select(tee, options.firmware, default)
            image = catalog.verify(entry)
        except firmware_mod.CatalogError as exc:
            raise _invalid(str(exc))
        # A stateless ROM: no NVRAM, no SMM, no descriptor auto-selection
        # that could pick another image than the one measured.
        guest.os_firmware = None
        guest.os_firmware_secure = None
        guest.os_loader = entry.path
        guest.os_loader_type = 'rom'
        guest.os_loader_readonly = True
        guest.os_loader_secure = False
        guest.os_loader_stateless = True
        guest.os_nvram = None
        return entry, image

    def _measure(self, what, launch):
        measurer = measurement.get_measurer()
        try:
            if isinstance(launch, measurement.SNPLaunch):
                return measurer.snp(launch)
            return measurer.tdx(launch)
        except (measurement.MeasurementError, OSError, ValueError) as exc:
            raise _invalid('cannot compute the expected %s measurement: %s'
                           % (what, exc))

    def _configure_snp(self, instance, guest, options, entry, image):
        upstream = guest.launch_security
        ls = bconfig.BuckypaperSEVSNPLaunchSecurity()
        ls.authorKey = False
        ls.vcek = upstream.vcek
        ls.kernelHashes = bool(upstream.kernelHashes or guest.os_kernel)
        if not ls.kernelHashes:
            _firmware_only(instance, options, 'boots from its disk image '
                           '(direct kernel boot measures the kernel)')
        policy = bconfig.LibvirtConfigGuestSEVSNPPolicy()
        policy.debug = False
        policy.migrate_ma = False
        policy.smt = options.snp_smt
        policy.single_socket = options.snp_single_socket
        policy.ciphertext_hiding = options.snp_ciphertext_hiding
        if options.snp_min_abi:
            policy.set_min_abi(*options.snp_min_abi)
        ls.policy = policy.value
        ls.host_data = binding.host_data(instance.uuid, instance.project_id)

        cpu = guest.cpu
        vcpu_type = (cpu.model if cpu is not None and cpu.model
                     and cpu.mode in (None, 'custom')
                     else CONF.buckypaper_compute.snp_vcpu_type)
        launch = measurement.SNPLaunch(
            firmware=image, vcpus=guest.vcpus, vcpu_type=vcpu_type,
            kernel=guest.os_kernel if ls.kernelHashes else None,
            initrd=guest.os_initrd if ls.kernelHashes else None,
            cmdline=guest.os_cmdline if ls.kernelHashes else None)
        digest = self._measure('SEV-SNP', launch)
        if options.snp_id_block:
            key_file = CONF.buckypaper_compute.snp_id_key_file
            if not key_file:
                raise _invalid('%s needs [buckypaper_compute] '
                               'snp_id_key_file' % extra_specs.SNP_ID_BLOCK)
            try:
                key = id_block_mod.load_key(key_file)
            except (OSError, ValueError) as exc:
                raise _invalid('cannot load the SNP ID key: %s' % exc)
            ls.id_block = id_block_mod.build_id_block(
                digest, ls.policy, id_block_mod.image_id(entry.name))
            ls.id_auth = id_block_mod.build_id_auth(ls.id_block, key)
        guest.launch_security = ls

        fixed = ls.policy & ~0xffff
        document = {
            'allow_debug': False,
            'snp_policy_set': fixed,
            'snp_policy_clear': bconfig.SNP_POLICY_KNOWN & ~0xffff & ~fixed,
        }
        if options.snp_min_abi:
            document['snp_min_abi'] = '%d.%d' % options.snp_min_abi
        if options.min_tcb:
            document['min_tcb'] = dict(options.min_tcb)
        return _launch(binding.SNP, instance, digest, ls.host_data,
                       document, options)

    def _configure_tdx(self, instance, guest, options, image):
        _firmware_only(instance, options, 'is TDX (no RTMR reference '
                       'values are registered)')
        ls = bconfig.BuckypaperTDXLaunchSecurity()
        ls.policy = (bconfig.TDX_POLICY_SEPT_VE_DISABLE
                     if options.tdx_sept_ve_disable else 0)
        ls.mr_config_id = binding.mr_config_id(instance.uuid,
                                               instance.project_id)
        ls.mr_owner = binding.mr_owner(instance.project_id)
        ls.qgs_path = CONF.buckypaper_compute.tdx_quote_generation_socket
        guest.launch_security = ls
        digest = self._measure('TDX', measurement.TDXLaunch(firmware=image))
        document = {
            'allow_debug': False,
            'require_sept_ve_disable': options.tdx_sept_ve_disable,
            'mr_owner': ls.mr_owner.hex(),
        }
        if options.min_tcb:
            document['min_tcb'] = dict(options.min_tcb)
        return _launch(binding.TDX, instance, digest, ls.mr_config_id,
                       document, options)

    # -- registration ---------------------------------------------------

    def _create_guest(self, context, xml, instance, *args, **kwargs):
        with self._launch_lock:
            launch = self._launches.pop(instance.uuid, None)
        created = None
        if launch is not None and launch.disk_key:
            created = self._provide_disk_key(context, instance, launch)
        try:
            if launch is not None and launch.attestation:
                self._register(context, instance, launch)
            return super()._create_guest(context, xml, instance, *args,
                                         **kwargs)
        except Exception:
            if created:
                self._discard_disk_key(context, instance, created)
            raise

    # -- disk key -------------------------------------------------------

    def _barbican(self, context) -> dict:
        """Session (with the request's user token) and endpoint options."""
        # A session of its own: barbicanclient's version discovery uses
        # the session's auth, which must be this user's and no other's.
        conf = CONF.buckypaper_compute
        return {
            'session': ks_loading.load_session_from_conf_options(
                CONF, compute_conf.GROUP.name,
                auth=service_auth.get_service_user_token_auth_plugin(
                    context)),
            'endpoint': conf.barbican_endpoint or None,
            'interface': conf.barbican_endpoint_type}

    def _provide_disk_key(self, context, instance, launch):
        """Create the instance's disk key unless it has one; the new ref.

        A hard reboot, rebuild or migration keeps the key it has.
        """
        if instance.system_metadata.get(SYSMETA_DISK_KEY):
            return None
        conf = CONF.buckypaper_compute
        if not conf.nitride_guest_url or not conf.nitride_user_id:
            raise _invalid('%s=generate needs [buckypaper_compute] '
                           'nitride_guest_url and nitride_user_id'
                           % extra_specs.DISK_KEY)
        try:
            ref = disk_key_mod.create(
                instance_uuid=instance.uuid, tee=launch.tee,
                reader_user_id=conf.nitride_user_id, min_tcb=launch.min_tcb,
                **self._barbican(context))
        except Exception as exc:
            LOG.error('Disk key creation failed: %s', exc,
                      instance=instance)
            raise DiskKeyFailed(instance_uuid=instance.uuid,
                                reason='%s: %s' % (type(exc).__name__, exc))
        instance.system_metadata[SYSMETA_DISK_KEY] = ref
        instance.system_metadata[SYSMETA_DISK_KEY_ON_DELETE] = (
            launch.disk_key_on_delete)
        instance.metadata = dict(instance.metadata or {}, **{
            META_SECRET: ref, META_NITRIDE_URL: conf.nitride_guest_url})
        try:
            instance.save()
        except Exception:
            self._delete_disk_key(context, instance, ref)
            raise
        return ref

    def _delete_disk_key(self, context, instance, ref) -> bool:
        try:
            disk_key_mod.delete(ref=ref, **self._barbican(context))
        except Exception as exc:
            # Bound to this instance only, which Nitride no longer knows:
            # the key can never be released again. The operator removes
            # it; the server's delete goes on.
            LOG.error('Disk key %s was not deleted: %s', ref, exc,
                      instance=instance)
            return False
        LOG.info('Disk key %s deleted', ref, instance=instance)
        return True

    def _discard_disk_key(self, context, instance, ref):
        """Delete the key of a launch that failed and forget it."""
        if not self._delete_disk_key(context, instance, ref):
            return
        for key in (SYSMETA_DISK_KEY, SYSMETA_DISK_KEY_ON_DELETE):
            instance.system_metadata.pop(key, None)
        instance.metadata = {k: v for k, v in instance.metadata.items()
                             if k not in (META_SECRET, META_NITRIDE_URL)}
        instance.save()

    def _register(self, context, instance, launch):
        try:
            answer = self._nitride_api().register_instance(
                _service_context(context), instance.uuid, launch.project_id,
                launch.tee, [launch.measurement.hex()],
                binding=launch.binding.hex(), policy=launch.policy,
                flavor_id=launch.flavor_id)
        except Exception as exc:
            LOG.error('Nitride registration failed: %s', exc,
                      instance=instance)
            raise NitrideRegistrationFailed(
                instance_uuid=instance.uuid,
                reason='%s: %s' % (type(exc).__name__, exc))
        if not isinstance(answer, dict) or answer.get(
                'binding') != launch.binding.hex():
            raise NitrideRegistrationFailed(
                instance_uuid=instance.uuid,
                reason='Nitride answered with another binding')
        instance.system_metadata[SYSMETA_TEE] = launch.tee
        LOG.info('Registered %s reference values with Nitride', launch.tee,
                 instance=instance)

    def _is_confidential(self, instance) -> bool:
        if (instance.system_metadata or {}).get(SYSMETA_TEE):
            return True
        return any(m in extra_specs.MODEL_TEE
                   for m in _requested_models(instance))

    def destroy(self, context, instance, network_info, block_device_info=None,
                destroy_disks=True, destroy_secrets=True):
        super().destroy(context, instance, network_info, block_device_info,
                        destroy_disks=destroy_disks,
                        destroy_secrets=destroy_secrets)
        with self._launch_lock:
            self._launches.pop(instance.uuid, None)
        if (instance.task_state == task_states.DELETING
                and self._is_confidential(instance)):
            try:
                self._nitride_api().remove_instance(
                    _service_context(context), instance.uuid)
            except Exception as exc:
                # The registration would let a host that relaunches the
                # same measurement and binding attest as this instance:
                # the delete fails and can be retried.
                LOG.error('Nitride removal failed: %s', exc,
                          instance=instance)
                raise NitrideRemovalFailed(
                    instance=instance.uuid,
                    reason='%s: %s' % (type(exc).__name__, exc))
            LOG.info('Removed from Nitride', instance=instance)
            sysmeta = instance.system_metadata or {}
            ref = sysmeta.get(SYSMETA_DISK_KEY)
            if ref and sysmeta.get(SYSMETA_DISK_KEY_ON_DELETE) == 'keep':
                LOG.info('Disk key %s kept', ref, instance=instance)
            elif ref:
                self._delete_disk_key(context, instance, ref)
