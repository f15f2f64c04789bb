from django.apps import AppConfig


class AccountsConfig(AppConfig):
    name = "obsarchive.server.accounts"
    label = "accounts"
    default_auto_field = "django.db.models.AutoField"
