"""Appraisal policies: the list and the form that sets one."""

from django.urls import reverse_lazy
from django.utils.translation import gettext_lazy as _
from horizon import exceptions
from horizon import forms
from horizon import tables

from buckypaper_os.dashboard.admin.policies import forms as policy_forms
from buckypaper_os.dashboard.admin.policies import tables as policy_tables
from buckypaper_os.dashboard import api
from buckypaper_os.dashboard import common
from buckypaper_os.dashboard import policy

INDEX = reverse_lazy('horizon:admin:confidential_policies:index')


class IndexView(tables.DataTableView):
    """Every appraisal policy."""

    table_class = policy_tables.PoliciesTable
    page_title = _('Appraisal Policies')

    def get_data(self):
        return common.rows(self.request, lambda: api.client(
            self.request).policies(), 'scope_id')


class SetView(forms.ModalFormView):
    """Store a project's or flavor's appraisal policy (admins)."""

    form_class = policy_forms.SetPolicyForm
    template_name = 'horizon/common/_modal_form.html'
    modal_id = 'set_policy_modal'
    page_title = _('Set Appraisal Policy')
    submit_label = _('Set Policy')
    submit_url = reverse_lazy('horizon:admin:confidential_policies:set')
    success_url = INDEX

    def dispatch(self, request, *args, **kwargs):
        if not policy.allowed(request, 'nitride:policy:set'):
            raise exceptions.NotAuthorized
        return super().dispatch(request, *args, **kwargs)
