"""The measured firmware catalog."""

from django.utils.translation import gettext_lazy as _
from horizon import tables

from buckypaper_os.dashboard.admin.firmware import tables as \
    firmware_tables
from buckypaper_os.dashboard import api
from buckypaper_os.dashboard import common


class IndexView(tables.DataTableView):
    """The catalog as Nitride reads it."""

    table_class = firmware_tables.FirmwareTable
    page_title = _('Firmware Catalog')

    def get_data(self):
        return common.rows(self.request, lambda: api.client(
            self.request).firmware(), 'name')
