"""Fixtures of the webhooks' tests: a real receiver on 127.0.0.1."""

from leadpost.webhooks.tests.receiver import receiver

__all__ = ["receiver"]
