from django.apps import AppConfig


class IntakeConfig(AppConfig):
    name = "leadpost.intake"
    label = "intake"
    verbose_name = "Lead intake"

    def ready(self) -> None:
        # What a post keeps of its account between posts is dropped when the account changes.
        from leadpost.intake import config

        config.connect()
        # A thread keeps its context from one request to the next (every server's pool): the
        # last post's id must not reach the next request's log lines (lib/jsonlog.py).
        from django.core.signals import request_started

        from leadpost.lib.jsonlog import forget_post_id

        request_started.connect(forget_post_id, dispatch_uid="leadpost.forget_post_id")
