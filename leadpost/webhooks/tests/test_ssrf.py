"""Webhook URLs follow the download rules of SPEC §8: public addresses on ports 80/443 only, unless
an operator allows the account's private network (never loopback or link-local)."""

from __future__ import annotations

import ipaddress
from typing import Any

import httpx
import pytest

from leadpost.accounts.models import Account
from leadpost.conftest import PostFn
from leadpost.lib.fetch import Refused, _checked_address, is_private_network
from leadpost.webhooks.models import DeliveryState, WebhookAttempt, WebhookDelivery, WebhookEvent
from leadpost.webhooks.tasks import deliver, dispatch, policy_for
from leadpost.webhooks.tests.conftest import Receiver, subscribe


def _delivery(post: PostFn) -> WebhookDelivery:
    response = post({"firstName": "John", "lastName": "Doe"})
    assert response.status_code == 200, response.content
    event = WebhookEvent.objects.get(record_id=response.json()["recordId"])
    dispatch(event.pk)
    return WebhookDelivery.objects.get(event=event)


@pytest.mark.parametrize(
    ("url", "reason"),
    [
        ("http://localhost:{port}/hook", "resolves to a non-public address"),
        ("http://127.0.0.1:{port}/hook", "resolves to a non-public address (127.0.0.1)"),
        ("http://[::ffff:127.0.0.1]:{port}/hook", "resolves to a non-public address"),
        ("http://169.254.169.254/latest/meta-data/", "non-public address (169.254.169.254)"),
        ("http://10.0.0.1/hook", "resolves to a non-public address (10.0.0.1)"),
        ("http://93.184.216.34:8080/hook", "port 8080 is not reached"),
        ("ftp://93.184.216.34/hook", "only http:// and https://"),
    ],
)
def test_a_non_public_url_is_refused_without_connecting(
    post: PostFn, agency: Account, receiver: Receiver, url: str, reason: str, settings: Any
) -> None:
    settings.LEADPOST_FETCH_ALLOW_LOOPBACK = False  # production: the test switch is off
    subscribe(agency, url.format(port=receiver.port), receiver=receiver)
    delivery = _delivery(post)

    assert deliver(delivery.pk) == DeliveryState.FAILED
    assert receiver.requests == []  # nothing connected to the receiver
    delivery.refresh_from_db()
    assert reason in delivery.error, delivery.error
    [attempt] = WebhookAttempt.objects.filter(delivery=delivery)
    assert attempt.status_code is None and attempt.finished
    assert reason in attempt.error


def test_an_allowed_private_account_still_cannot_reach_loopback(
    post: PostFn, agency: Account, receiver: Receiver, settings: Any
) -> None:
    settings.LEADPOST_FETCH_ALLOW_LOOPBACK = False
    agency.webhooks_allow_private = True
    agency.save()
    subscribe(agency, receiver.url, receiver=receiver)
    delivery = _delivery(post)
    assert deliver(delivery.pk) == DeliveryState.FAILED
    assert receiver.requests == []
    delivery.refresh_from_db()
    assert "non-public address (127.0.0.1)" in delivery.error


@pytest.mark.parametrize(
    ("address", "private"),
    [
        ("10.1.2.3", True),
        ("172.16.0.1", True),
        ("172.31.255.254", True),
        ("192.168.1.1", True),
        ("100.64.0.1", True),
        ("fd00::1", True),
        ("::ffff:10.0.0.1", True),
        ("127.0.0.1", False),
        ("::1", False),
        ("169.254.169.254", False),
        ("::ffff:169.254.169.254", False),
        ("fe80::1", False),
        ("172.32.0.1", False),
        ("8.8.8.8", False),
        ("0.0.0.0", False),
        ("224.0.0.1", False),
    ],
)
def test_is_private_network(address: str, private: bool) -> None:
    assert is_private_network(ipaddress.ip_address(address)) is private


@pytest.mark.parametrize(
    ("url", "allowed"),
    [
        ("http://10.0.0.1:8080/hook", "10.0.0.1"),  # private: any port
        ("https://192.168.1.20/hook", "192.168.1.20"),
        ("http://[fd00::5]:9000/hook", "fd00::5"),
        ("http://93.184.216.34/hook", "93.184.216.34"),
        ("https://93.184.216.34:443/hook", "93.184.216.34"),
        ("http://93.184.216.34:8443/hook", None),  # public: 80 and 443 only
        ("http://127.0.0.1/hook", None),
        ("http://localhost/hook", None),
        ("http://169.254.169.254/latest/meta-data/", None),
        ("http://[::ffff:169.254.169.254]/", None),
        ("http://[fe80::1]/hook", None),
        ("http://0.0.0.0/hook", None),
    ],
)
@pytest.mark.parametrize("allow_private", [True, False])
def test_the_policy_of_an_account(
    agency: Account, settings: Any, url: str, allowed: str | None, allow_private: bool
) -> None:
    settings.LEADPOST_FETCH_ALLOW_LOOPBACK = False
    agency.webhooks_allow_private = allow_private
    agency.save()
    subscription = subscribe(agency, url)
    policy = policy_for(subscription)
    assert policy.allow_private is allow_private and not policy.allow_loopback
    address = ipaddress.ip_address(allowed) if allowed else None
    if address is not None and (allow_private or not is_private_network(address)):
        assert _checked_address(httpx.URL(url), policy) == address
    else:
        with pytest.raises(Refused):
            _checked_address(httpx.URL(url), policy)
