"""The reference values of every registered instance."""

from django.utils.translation import gettext_lazy as _
from horizon import tables

from buckypaper_os.dashboard.admin.references import tables as \
    references_tables
from buckypaper_os.dashboard import api
from buckypaper_os.dashboard import common


class IndexView(tables.DataTableView):
    """Registered instances of all projects."""

    table_class = references_tables.ReferencesTable
    page_title = _('Reference Values')

    def get_data(self):
        return common.rows(self.request, lambda: api.client(
            self.request).instances(all_projects='1'), 'instance_uuid')
