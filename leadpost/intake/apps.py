from django.apps import AppConfig


class IntakeConfig(AppConfig):
    name = "leadpost.intake"
    label = "intake"
    verbose_name = "Lead intake"
