"""Flavors from Nova, marked with the TEE their guests run in."""

from django.utils.translation import gettext_lazy as _
from horizon import exceptions
from horizon import tables
from openstack_dashboard.api import nova

from buckypaper_os.dashboard import common
from buckypaper_os.dashboard import flavors
from buckypaper_os.dashboard.project.flavors import tables as \
    flavor_tables


class IndexView(tables.DataTableView):
    """Flavors of the project, confidential ones with their TEE."""

    table_class = flavor_tables.FlavorsTable
    page_title = _('Confidential Flavors')

    def get_data(self):
        try:
            found = nova.flavor_list(self.request, get_extras=True)
        except Exception:
            exceptions.handle(self.request, _('Unable to list flavors.'))
            return []
        rows = (common.Row(flavors.row(f), 'id') for f in found)
        return sorted(rows, key=lambda row: (row.tee is None, row.name))
