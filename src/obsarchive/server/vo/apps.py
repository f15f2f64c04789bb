from django.apps import AppConfig


class VoConfig(AppConfig):
    name = "obsarchive.server.vo"
    label = "vo"
    verbose_name = "Virtual Observatory"

    def ready(self) -> None:
        # Registers the system checks of the VO configuration (authority, filter table).
        from obsarchive.server.vo import checks  # noqa: F401
