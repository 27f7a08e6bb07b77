from django.apps import AppConfig


class ReturnsConfig(AppConfig):
    name = "leadpost.returns"
    label = "returns"
    verbose_name = "Returns to vendors"
