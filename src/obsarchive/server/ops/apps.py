from django.apps import AppConfig


class OpsConfig(AppConfig):
    name = "obsarchive.server.ops"
    label = "ops"
    verbose_name = "Operations"
