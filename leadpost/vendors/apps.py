from django.apps import AppConfig


class VendorsConfig(AppConfig):
    name = "leadpost.vendors"
    label = "vendors"
    verbose_name = "Vendor performance"
