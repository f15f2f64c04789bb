"""URL map of the science archive."""

from django.contrib import admin
from django.urls import include, path

from obsarchive.server.frames.views import robots_txt

urlpatterns = [
    path("robots.txt", robots_txt),
    path("admin/", admin.site.urls),
    path("vo/", include("obsarchive.server.vo.urls")),
    path("api-auth/", include("rest_framework.urls")),
    path("", include("obsarchive.server.accounts.urls")),
    path("", include("obsarchive.server.ops.urls")),
    # Before the frames routes: frames/zip/ and frames/download-script/ must not be taken
    # for frame ids, and download/ supersedes the frames app's own view.
    path("", include("obsarchive.server.downloads.urls")),
    # The web interface (/ui/, /resolve/) and the root: before the frames router, whose API
    # root view the web app serves to clients that do not ask for HTML.
    path("", include("obsarchive.server.web.urls")),
    path("", include("obsarchive.server.frames.urls")),
]
