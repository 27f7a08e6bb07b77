from django.apps import AppConfig


class AccountsConfig(AppConfig):
    name = "leadpost.accounts"
    label = "accounts"
    verbose_name = "Accounts"
