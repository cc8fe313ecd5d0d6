"""URLs of the attestation panel."""

from django.urls import re_path

from buckypaper_os.dashboard.project.attestation import views

urlpatterns = [
    re_path(r'^$', views.IndexView.as_view(), name='index'),
    re_path(r'^(?P<instance_id>[^/]+)/$', views.DetailView.as_view(),
            name='detail'),
    re_path(r'^(?P<instance_id>[^/]+)/records/$', views.records,
            name='records'),
]
