"""Download routes, mounted at the API root before the frames routes.

``frames/zip/`` and ``frames/download-script/`` must be matched before the frames router's
``frames/<id>/`` detail route, and ``download/`` here replaces the frames app's simpler view.
"""

from django.urls import path

from obsarchive.server.downloads import views

urlpatterns = [
    path("download/<path:key>", views.signed_download, name="signed-download"),
    path("frames/zip/", views.ZipView.as_view(), name="frame-zip"),
    path(
        "frames/download-script/",
        views.DownloadScriptView.as_view(),
        name="frame-download-script",
    ),
    path(
        "frame-funpack/<str:pk>/funpack/",
        views.UncompressedView.as_view(),
        name="frame-funpack-funpack",
    ),
    path(
        "frame-catalog/<str:pk>/catalog/",
        views.CatalogueView.as_view(),
        name="frame-catalog-catalog",
    ),
]
