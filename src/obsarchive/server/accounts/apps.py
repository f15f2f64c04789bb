from django.apps import AppConfig


class AccountsConfig(AppConfig):
    name = "obsarchive.server.accounts"
    label = "accounts"
    default_auto_field = "django.db.models.AutoField"
    verbose_name = "Accounts and proposals"

    def ready(self) -> None:
        from obsarchive.server.accounts import signals  # noqa: F401 - registers receivers
