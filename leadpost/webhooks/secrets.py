"""A webhook's signing secret: made and shown once, kept encrypted, read only to sign."""

from __future__ import annotations

from leadpost.lib.encryption import decrypt_secret, encrypt_secret
from leadpost.webhooks.models import WebhookSubscription
from leadpost.webhooks.signing import new_secret


def set_new_secret(subscription: WebhookSubscription) -> str:
    """Give the subscription a new secret (not saved here); the one time it is returned."""
    secret = new_secret()
    subscription.secret_encrypted = encrypt_secret(secret)
    subscription.secret_hint = "…" + secret[-4:]
    return secret


def read_secret(subscription: WebhookSubscription) -> str:
    return decrypt_secret(subscription.secret_encrypted)
