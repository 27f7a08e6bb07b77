from django.apps import AppConfig


class IntakeConfig(AppConfig):
    name = "leadpost.intake"
    label = "intake"
    verbose_name = "Lead intake"

    def ready(self) -> None:
        # What a post keeps of its account between posts is dropped when the account changes.
        from leadpost.intake import config

        config.connect()
