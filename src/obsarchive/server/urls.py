"""URL map of the science archive."""

from django.contrib import admin
from django.urls import include, path

urlpatterns = [
    path("admin/", admin.site.urls),
    path("api-auth/", include("rest_framework.urls")),
    path("", include("obsarchive.server.accounts.urls")),
    path("", include("obsarchive.server.frames.urls")),
]
