"""URLs of the confidential flavors panel."""

from django.urls import re_path

from buckypaper_os.dashboard.project.flavors import views

urlpatterns = [re_path(r'^$', views.IndexView.as_view(), name='index')]
