from django.apps import AppConfig


class EventsConfig(AppConfig):
    name = "obsarchive.server.events"
    label = "events"
    default_auto_field = "django.db.models.AutoField"
