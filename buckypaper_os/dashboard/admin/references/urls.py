"""URLs of the reference values panel."""

from django.urls import re_path

from buckypaper_os.dashboard.admin.references import views

urlpatterns = [re_path(r'^$', views.IndexView.as_view(), name='index')]
