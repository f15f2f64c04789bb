from django.apps import AppConfig


class DownloadsConfig(AppConfig):
    name = "obsarchive.server.downloads"
    label = "downloads"
    verbose_name = "Downloads"
