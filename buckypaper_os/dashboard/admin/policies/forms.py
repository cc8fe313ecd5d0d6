"""The form that stores an appraisal policy through Nitride."""

import json

from django.utils.translation import gettext_lazy as _
from horizon import forms
from horizon import messages

from buckypaper_os.dashboard import api


class SetPolicyForm(forms.SelfHandlingForm):
    """Scope, project or flavor ID, and the policy document (JSON)."""

    scope = forms.ChoiceField(label=_('Scope'), choices=(
        ('project', _('Project')), ('flavor', _('Flavor'))))
    scope_id = forms.CharField(label=_('Project or flavor ID'),
                               max_length=255)
    document = forms.CharField(
        label=_('Policy (JSON)'), widget=forms.Textarea(attrs={'rows': 8}),
        help_text=_('An appraisal policy document, e.g. {"min_tcb": '
                    '{"snp": 22}, "token_lifetime": 300}.'))

    def clean_document(self) -> dict:
        try:
            document = json.loads(self.cleaned_data['document'])
        except ValueError:
            raise forms.ValidationError(_('not JSON')) from None
        if not isinstance(document, dict):
            raise forms.ValidationError(_('a policy is a JSON object'))
        return document

    def handle(self, request, data) -> bool:
        try:
            api.client(request).set_policy(data['scope'], data['scope_id'],
                                           data['document'])
        except api.TenantApiError as exc:
            messages.error(request, _('Nitride refused the policy: %s')
                           % '; '.join(exc.reasons or [exc.detail]))
            return False
        messages.success(request, _('Policy of %(scope)s %(id)s set.')
                         % {'scope': data['scope'], 'id': data['scope_id']})
        return True
