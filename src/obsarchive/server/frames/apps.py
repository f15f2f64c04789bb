from django.apps import AppConfig


class FramesConfig(AppConfig):
    name = "obsarchive.server.frames"
    label = "frames"
    default_auto_field = "django.db.models.AutoField"
