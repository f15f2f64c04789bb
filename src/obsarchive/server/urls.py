"""URL map of the science archive."""

from django.contrib import admin
from django.urls import include, path

from obsarchive.server.frames.views import robots_txt

urlpatterns = [
    path("robots.txt", robots_txt),
    path("admin/", admin.site.urls),
    path("api-auth/", include("rest_framework.urls")),
    path("", include("obsarchive.server.accounts.urls")),
    path("", include("obsarchive.server.ops.urls")),
    path("", include("obsarchive.server.frames.urls")),
]
