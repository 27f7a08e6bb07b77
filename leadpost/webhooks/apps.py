from django.apps import AppConfig


class WebhooksConfig(AppConfig):
    name = "leadpost.webhooks"
    label = "webhooks"
    verbose_name = "Webhooks"
