"""URLs of the firmware catalog panel."""

from django.urls import re_path

from buckypaper_os.dashboard.admin.firmware import views

urlpatterns = [re_path(r'^$', views.IndexView.as_view(), name='index')]
