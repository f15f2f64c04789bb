from django.apps import AppConfig


class WebConfig(AppConfig):
    name = "obsarchive.server.web"
    label = "web"
    verbose_name = "Web interface"
