from django.apps import AppConfig


class RoutingConfig(AppConfig):
    name = "leadpost.routing"
    label = "routing"
    verbose_name = "Lead routing"
