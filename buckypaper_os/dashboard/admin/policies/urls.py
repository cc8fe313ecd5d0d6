"""URLs of the appraisal policies panel."""

from django.urls import re_path

from buckypaper_os.dashboard.admin.policies import views

urlpatterns = [
    re_path(r'^$', views.IndexView.as_view(), name='index'),
    re_path(r'^set/$', views.SetView.as_view(), name='set'),
]
