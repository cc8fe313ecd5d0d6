"""Nitride's tenant API for a Horizon request, as the signed-in user.

The endpoint is ``settings.BUCKYPAPER_NITRIDE_URL`` when set, else the
``attestation`` service of the user's Keystone catalog. TLS follows
Horizon's own ``OPENSTACK_SSL_CACERT`` and ``OPENSTACK_SSL_NO_VERIFY``.
"""

from django.conf import settings
from openstack_dashboard.api import base

from buckypaper_os.nitride_service.api import tenant_client

TenantApiError = tenant_client.TenantApiError


def endpoint(request) -> str:
    """Nitride's URL for this request's user."""
    configured = getattr(settings, 'BUCKYPAPER_NITRIDE_URL', None)
    return configured or base.url_for(request, tenant_client.SERVICE_TYPE)


def client(request) -> tenant_client.TenantClient:
    """A client acting with the request user's Keystone token."""
    verify = getattr(settings, 'OPENSTACK_SSL_CACERT', None) or not getattr(
        settings, 'OPENSTACK_SSL_NO_VERIFY', False)
    return tenant_client.TenantClient(endpoint(request),
                                      request.user.token.id, verify=verify)
