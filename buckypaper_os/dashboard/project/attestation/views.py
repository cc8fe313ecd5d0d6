"""The attestation list, an instance's attestation, and its records."""

from django import http
from django.utils.translation import gettext_lazy as _
from horizon import tables
from horizon import views
from oslo_utils import uuidutils

from buckypaper_os.dashboard import api
from buckypaper_os.dashboard import common
from buckypaper_os.dashboard.project.attestation import tables as \
    attestation_tables


class IndexView(tables.DataTableView):
    """Instances of the project by attestation state, filtered."""

    table_class = attestation_tables.InstancesTable
    page_title = _('Attestation')

    def get_data(self):
        filters = self.get_filters()
        return common.rows(self.request, lambda: api.client(
            self.request).instances(**filters), 'instance_uuid')


class DetailView(views.HorizonTemplateView):
    """One instance: TEE, tier and reasons, measurement, binding, TCB."""

    template_name = 'buckypaper/attestation/detail.html'
    page_title = _('Attestation of {{ instance.instance_uuid }}')

    def get_context_data(self, **kwargs):
        context = super().get_context_data(**kwargs)
        instance = common.fetch_one(lambda: api.client(
            self.request).instance(kwargs['instance_id']))
        result = instance.get('attestation') or {}
        claims = result.get('claims') or {}
        context.update(
            instance=instance, result=result, claims=claims,
            tier_class=common.tier_class(instance['status']),
            tcb=sorted((claims.get('reported_tcb') or {}).items()),
            reported=claims.get('measurement') or claims.get('mr_td'),
            reported_binding=claims.get('host_data')
            or claims.get('mr_config_id'))
        return context


def records(request, instance_id: str) -> http.HttpResponse:
    """The signed records of an instance, as a JSON download."""
    if not uuidutils.is_uuid_like(instance_id):
        raise http.Http404(instance_id)
    body = common.fetch_one(lambda: api.client(request).records(
        instance_id))
    response = http.HttpResponse(body, content_type='application/json')
    response['Content-Disposition'] = (
        'attachment; filename="attestation-%s.json"' % instance_id)
    return response
