from django.apps import AppConfig


class ConsentConfig(AppConfig):
    name = "leadpost.consent"
    label = "consent"
    verbose_name = "Consent evidence"
