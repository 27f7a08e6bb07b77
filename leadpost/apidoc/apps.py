from django.apps import AppConfig


class ApiDocConfig(AppConfig):
    name = "leadpost.apidoc"
    label = "apidoc"
    verbose_name = "API description"
