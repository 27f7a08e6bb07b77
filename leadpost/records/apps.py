from django.apps import AppConfig


class RecordsConfig(AppConfig):
    name = "leadpost.records"
    label = "records"
    verbose_name = "Records"
