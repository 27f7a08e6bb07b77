"""`leadpost rotate-ssn-keys` re-encrypts webhook signing secrets too: after it, the old key can go."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from cryptography.fernet import Fernet
from django.core.management import call_command
from django.test import override_settings

from leadpost.accounts.models import Account
from leadpost.lib import encryption
from leadpost.webhooks.models import WebhookSubscription
from leadpost.webhooks.secrets import read_secret
from leadpost.webhooks.tests.conftest import subscribe


@pytest.fixture
def fresh_keys() -> Iterator[None]:
    encryption._fernet.cache_clear()
    yield
    encryption._fernet.cache_clear()


def test_rotation_moves_the_secret_to_the_new_key(
    agency: Account, settings, fresh_keys: None
) -> None:
    old_key = settings.SSN_KEYS[0]
    subscription = subscribe(agency, "https://crm.example.com/hooks")
    secret = read_secret(subscription)
    new_key = Fernet.generate_key().decode()
    with override_settings(SSN_KEYS=[new_key, old_key]):
        encryption._fernet.cache_clear()
        call_command("rotate_ssn_keys")
    encryption._fernet.cache_clear()
    with override_settings(SSN_KEYS=[new_key]):  # the old key dropped
        encryption._fernet.cache_clear()
        assert read_secret(WebhookSubscription.objects.get(pk=subscription.pk)) == secret
