"""The webhooks' staff pages (SPEC §12): who may reach them, the secret shown once, what a delivery's
page shows of a receiver's answer, the URLs refused on save, and the buttons doing what they say.

Deliveries run as the worker runs them (`tasks.dispatch`, `tasks.deliver`), in the test process,
against a real HTTP receiver on 127.0.0.1.
"""

from __future__ import annotations

import datetime as dt
import json
import time
from typing import Any
from urllib.parse import urlencode

import pytest
from django.test import Client
from django.urls import reverse
from django.utils import timezone
from django.utils.html import escape

from leadpost.accounts.models import Account, Permission, User
from leadpost.intake.models import LeadPostUrl
from leadpost.webhooks import snippets, tasks
from leadpost.webhooks.actions import create_subscription, send_test_event
from leadpost.webhooks.models import (
    TEST_EVENT,
    DeliveryState,
    EventType,
    WebhookAttempt,
    WebhookDelivery,
    WebhookEvent,
    WebhookSubscription,
)
from leadpost.webhooks.secrets import read_secret
from leadpost.webhooks.signing import EVENT_ID_HEADER, HEADER, verify
from leadpost.webhooks.tasks import _clean_head
from leadpost.webhooks.tests.conftest import Answer, Receiver

# The receiver is on 127.0.0.1 (tests only: settings refuse this anywhere else).
pytestmark = pytest.mark.usefixtures("loopback")

PASSWORD = "pw-webhooks-5512q"
SSN = "123-45-6789"
ADMIN = "webhooks_webhooksubscription"
FORM = "application/x-www-form-urlencoded"


def url_of(name: str, *args: Any) -> str:
    return reverse(f"staff:{ADMIN}_{name}", args=args)


@pytest.fixture
def ada(agency: Account, staff_member: Any) -> User:
    """Our agency's admin of Lead Post URLs, so of its webhooks."""
    return staff_member(agency, "ada", Permission.MANAGE_URLS, Permission.MANAGE_USERS)


@pytest.fixture
def ada_client(ada: User) -> Client:
    client = Client()
    client.force_login(ada)
    return client


@pytest.fixture
def hook(agency: Account, receiver: Receiver) -> WebhookSubscription:
    return create_subscription(
        agency,
        url=receiver.url,
        events=[EventType.RECORD_CREATED],
        description="Hawkeye CRM",
    )[0]


def run_deliveries() -> list[str]:
    """What the worker would do now: dispatch every event, then try every due delivery."""
    for pk in WebhookEvent.objects.filter(dispatched=False).values_list("pk", flat=True):
        tasks.dispatch(pk)
    return [
        tasks.deliver(pk)
        for pk in WebhookDelivery.objects.filter(state=DeliveryState.PENDING).values_list(
            "pk", flat=True
        )
    ]


def add_form(url: str, *events: str, description: str = "CRM") -> dict[str, Any]:
    return {"url": url, "description": description, "events": list(events), "_save": "Save"}


# --- the secret, once ----------------------------------------------------------------------


def test_a_new_webhooks_secret_is_in_the_answer_to_its_post_once_and_nowhere_afterwards(
    ada_client: Client, agency: Account, receiver: Receiver
) -> None:
    response = ada_client.post(
        url_of("add"), add_form(receiver.url, EventType.RECORD_CREATED, EventType.RECORD_ASSIGNED)
    )
    assert response.status_code == 200
    subscription = WebhookSubscription.objects.get(account=agency)
    secret = read_secret(subscription)
    body = response.content.decode()
    assert body.count(secret) == 1
    assert "shown once, copy it now" in body
    assert "no-store" in response["Cache-Control"]
    assert subscription.events == [EventType.RECORD_ASSIGNED, EventType.RECORD_CREATED]
    # Not kept anywhere a later page could read it from: not the session, not a cookie.
    assert secret not in json.dumps(dict(ada_client.session.items()), default=str)
    assert all(secret not in morsel.value for morsel in ada_client.cookies.values())

    # A delivery, so the deliveries and delivery pages have something to show.
    ada_client.post(url_of("test", subscription.pk))
    run_deliveries()
    delivery = WebhookDelivery.objects.get(subscription=subscription)
    pages = [
        url_of("changelist"),
        url_of("change", subscription.pk),
        url_of("deliveries", subscription.pk),
        url_of("delivery", delivery.pk),
        "/staff/",
        f"/admin/webhooks/webhooksubscription/{subscription.pk}/change/",
    ]
    for page in pages[:-1]:
        answer = ada_client.get(page)
        assert answer.status_code == 200, page
        assert secret not in answer.content.decode(), page
    change = ada_client.get(url_of("change", subscription.pk)).content.decode()
    assert f"whsec_{subscription.secret_hint}" in change
    assert secret[-4:] == subscription.secret_hint[-4:]
    operator = User.objects.create_superuser("root", "root@leadpost.example", PASSWORD)
    ops = Client()
    ops.force_login(operator)
    answer = ops.get(pages[-1])
    assert answer.status_code == 200
    assert secret not in answer.content.decode()
    assert "Hawkeye" in answer.content.decode() or "CRM" in answer.content.decode()


def test_rotating_shows_the_new_secret_once_and_the_old_one_stops_signing(
    ada_client: Client, hook: WebhookSubscription, receiver: Receiver
) -> None:
    old = read_secret(hook)
    response = ada_client.post(url_of("rotate", hook.pk))
    assert response.status_code == 200
    hook.refresh_from_db()
    new = read_secret(hook)
    assert new != old
    assert response.content.decode().count(new) == 1
    assert old not in response.content.decode()
    assert new not in ada_client.get(url_of("change", hook.pk)).content.decode()

    ada_client.post(url_of("test", hook.pk))
    run_deliveries()
    (got,) = receiver.requests
    now = int(time.time())
    assert verify(new, got.headers[HEADER.lower()], got.body, now=now)
    assert not verify(old, got.headers[HEADER.lower()], got.body, now=now)


# --- the buttons -----------------------------------------------------------------------------


def test_a_test_event_goes_to_this_webhook_only_signed_and_shows_on_its_deliveries_page(
    ada_client: Client, agency: Account, hook: WebhookSubscription, receiver: Receiver
) -> None:
    other, _ = create_subscription(
        agency, url=receiver.url_to("/other"), events=[EventType.RECORD_CREATED]
    )
    response = ada_client.post(url_of("test", hook.pk), follow=True)
    assert "is on its way" in response.content.decode()
    assert run_deliveries() == [DeliveryState.DELIVERED]
    (got,) = receiver.requests
    assert got.path == "/hooks/leadpost"
    event = json.loads(got.body)
    assert event["type"] == TEST_EVENT and event["data"]["webhook"] == hook.pk
    assert got.headers[EVENT_ID_HEADER.lower()] == event["id"]
    assert verify(read_secret(hook), got.headers[HEADER.lower()], got.body, now=int(time.time()))
    assert not WebhookDelivery.objects.filter(subscription=other).exists()
    page = ada_client.get(url_of("deliveries", hook.pk)).content.decode()
    assert event["id"] in page and "Delivered" in page


def test_pause_keeps_events_waiting_and_resume_sends_them(
    ada_client: Client, hook: WebhookSubscription, receiver: Receiver
) -> None:
    ada_client.post(url_of("pause", hook.pk))
    hook.refresh_from_db()
    assert hook.paused and "paused by ada" in hook.paused_reason
    assert "Paused" in ada_client.get(url_of("change", hook.pk)).content.decode()
    ada_client.post(url_of("test", hook.pk))
    run_deliveries()
    assert receiver.requests == []
    assert WebhookDelivery.objects.get(subscription=hook).state == DeliveryState.PAUSED

    response = ada_client.post(url_of("resume", hook.pk), follow=True)
    assert "1 waiting" in response.content.decode()
    assert run_deliveries() == [DeliveryState.DELIVERED]
    assert len(receiver.requests) == 1


def test_redeliver_one_retries_a_failing_delivery_now(
    ada_client: Client, hook: WebhookSubscription, receiver: Receiver
) -> None:
    receiver.answer(Answer(503))
    ada_client.post(url_of("test", hook.pk))
    assert run_deliveries() == [DeliveryState.PENDING]  # retried later, after the back-off
    delivery = WebhookDelivery.objects.get(subscription=hook)
    page = ada_client.get(url_of("delivery", delivery.pk)).content.decode()
    assert '<td class="status">503</td>' in page
    assert run_deliveries() == ["not claimed"]  # not due yet

    receiver.answer(Answer(200))
    response = ada_client.post(url_of("redeliver", delivery.pk), follow=True)
    assert "Redelivering" in response.content.decode()
    assert run_deliveries() == [DeliveryState.DELIVERED]
    delivery.refresh_from_db()
    assert (delivery.state, delivery.attempts, delivery.last_status) == ("delivered", 2, 200)
    # A GET changes nothing: redelivery is a POST (with its CSRF token, see below).
    assert ada_client.get(url_of("redeliver", delivery.pk)).status_code == 405


def test_redelivering_a_period_takes_the_failed_deliveries_of_those_days_in_the_accounts_zone(
    ada_client: Client, agency: Account, hook: WebhookSubscription, receiver: Receiver
) -> None:
    receiver.answer(Answer(404))  # fails at once
    for _ in range(3):
        ada_client.post(url_of("test", hook.pk))
    run_deliveries()
    first, second, third = WebhookDelivery.objects.filter(subscription=hook).order_by("pk")
    assert {first.state, second.state, third.state} == {DeliveryState.FAILED}
    # 04:00 UTC on 10 March is still 9 March in Chicago (the account's zone).
    late_evening = dt.datetime(2026, 3, 10, 4, 0, tzinfo=dt.UTC)
    WebhookEvent.objects.filter(pk=first.event_id).update(created_at=late_evening)
    WebhookEvent.objects.filter(pk=second.event_id).update(
        created_at=late_evening + dt.timedelta(hours=2)
    )
    receiver.answer(Answer(200))
    response = ada_client.post(
        url_of("redeliver_failed", hook.pk), {"since": "2026-03-09", "until": "2026-03-09"}
    )
    assert response.status_code == 302
    assert run_deliveries() == [DeliveryState.DELIVERED]
    states = dict(WebhookDelivery.objects.values_list("pk", "state"))
    assert states == {first.pk: "delivered", second.pk: "failed", third.pk: "failed"}

    answer = ada_client.post(
        url_of("redeliver_failed", hook.pk),
        {"since": "2026-03-10", "until": "2026-03-01"},
        follow=True,
    )
    assert "Nothing was redelivered: The period ends before it starts." in answer.content.decode()


def test_csrf_is_checked_on_every_button(hook: WebhookSubscription, ada: User) -> None:
    client = Client(enforce_csrf_checks=True)
    client.force_login(ada)
    delivery_less = [url_of(n, hook.pk) for n in ("pause", "rotate", "test", "redeliver_failed")]
    for path in delivery_less:
        assert client.post(path).status_code == 403, path
    hook.refresh_from_db()
    assert not hook.paused and not WebhookEvent.objects.exists()


def test_delete_removes_the_webhook(ada_client: Client, hook: WebhookSubscription) -> None:
    response = ada_client.post(url_of("delete", hook.pk), {"post": "yes"})
    assert response.status_code == 302
    assert not WebhookSubscription.objects.filter(pk=hook.pk).exists()


# --- tenancy -------------------------------------------------------------------------------


@pytest.fixture
def their_hook(other_agency: Account, receiver: Receiver) -> WebhookSubscription:
    """The other agency's webhook, with a delivered test event: the rows to aim at."""
    hook = create_subscription(
        other_agency, url=receiver.url_to("/otter"), events=[EventType.RECORD_CREATED]
    )[0]
    send_test_event(hook)
    run_deliveries()
    return hook


def row_urls(hook: WebhookSubscription) -> list[tuple[str, str]]:
    """Every page and button naming the webhook or its delivery, as (method, path)."""
    delivery = WebhookDelivery.objects.get(subscription=hook)
    gets = [
        url_of("change", hook.pk),
        url_of("delete", hook.pk),
        url_of("deliveries", hook.pk),
        url_of("delivery", delivery.pk),
    ]
    posts = [
        url_of("change", hook.pk),
        url_of("delete", hook.pk),
        url_of("pause", hook.pk),
        url_of("resume", hook.pk),
        url_of("rotate", hook.pk),
        url_of("test", hook.pk),
        url_of("redeliver_failed", hook.pk),
        url_of("redeliver", delivery.pk),
    ]
    return [("get", p) for p in gets] + [("post", p) for p in posts]


def state_of_webhooks() -> list[Any]:
    return [
        list(WebhookSubscription.objects.order_by("pk").values()),
        list(WebhookEvent.objects.order_by("pk").values()),
        list(WebhookDelivery.objects.order_by("pk").values()),
        WebhookAttempt.objects.count(),
    ]


PAYLOAD = {
    "post": "yes",
    "url": "https://evil.example/",
    "events": ["record.created"],
    "since": "2020-01-01",
    "until": "2020-03-01",
}
OTHERS = ["anonymous", "outsider", "insider", "another account's admin"]


@pytest.mark.parametrize("who", OTHERS)
def test_no_one_but_the_accounts_admins_reaches_any_webhook_page(
    who: str,
    agency: Account,
    other_agency: Account,
    staff_member: Any,
    their_hook: WebhookSubscription,
) -> None:
    """Every page and button of the other agency's webhook, GET and POST, as someone who may not
    use it: anonymous; a user of our agency holding no permission; one of theirs holding every
    permission but Manage Lead Post URLs; our admin, holding every permission of ours."""
    client = Client()
    users = {
        "outsider": lambda: staff_member(agency, "quill-nobody"),
        "insider": lambda: staff_member(
            other_agency,
            "otter-low",
            *(p for p in Permission if p != Permission.MANAGE_URLS),
        ),
        "another account's admin": lambda: staff_member(agency, "quill-boss", *Permission),
    }
    if who in users:
        client.force_login(users[who]())
    pages = row_urls(their_hook)
    if who != "another account's admin":  # their own lists and forms are theirs to use
        pages += [("get", url_of("changelist")), ("get", url_of("add")), ("post", url_of("add"))]
    before = state_of_webhooks()
    problems = []
    for method, path in pages:
        response = getattr(client, method)(path, PAYLOAD if method == "post" else None)
        status = response.status_code
        if who == "anonymous":
            ok = status == 302 and response["Location"].startswith("/staff/login/")
        elif who == "another account's admin":
            # Django's own change and delete pages send a missing row to the index.
            ok = status == 404 or (status, response.get("Location")) == (302, "/staff/")
        else:
            ok = status == 403
        if not ok:
            problems.append(f"{method.upper()} {path}: {status}")
        if their_hook.url in response.content.decode():
            problems.append(f"{method.upper()} {path} shows their webhook")
    assert not problems, "\n".join(problems)
    assert state_of_webhooks() == before


def test_our_webhooks_buttons_refuse_a_delivery_of_another_account(
    ada_client: Client, hook: WebhookSubscription, their_hook: WebhookSubscription
) -> None:
    theirs = WebhookDelivery.objects.get(subscription=their_hook)
    theirs_before = WebhookDelivery.objects.filter(pk=theirs.pk).values().get()
    assert ada_client.post(url_of("redeliver", theirs.pk)).status_code == 404
    assert ada_client.get(url_of("delivery", theirs.pk)).status_code == 404
    assert ada_client.post(url_of("redeliver", "9999999")).status_code == 404
    assert WebhookDelivery.objects.filter(pk=theirs.pk).values().get() == theirs_before
    assert (
        ada_client.get(f"/staff/webhooks/webhooksubscription/{hook.pk}x/deliveries/").status_code
        == 404
    )


def test_the_staff_index_links_the_webhooks_for_their_admins_only(
    ada_client: Client, agency: Account, staff_member: Any
) -> None:
    link = f'href="{url_of("changelist")}"'
    assert link in ada_client.get("/staff/").content.decode()
    low = Client()
    low.force_login(staff_member(agency, "nemo", Permission.VIEW_POST_LOG))
    assert link not in low.get("/staff/").content.decode()


# --- the operators' switch -----------------------------------------------------------------


def test_private_networks_are_the_operators_switch_never_a_staff_page(
    ada_client: Client, agency: Account
) -> None:
    account_page = f"/staff/accounts/account/{agency.pk}/change/"
    page = ada_client.get(account_page)
    assert page.status_code == 200
    assert "webhooks_allow_private" not in page.content.decode()
    assert "private networks" not in page.content.decode()
    ada_client.post(
        account_page,
        {
            "time_zone": agency.time_zone,
            "fallback_agent": "",
            "duplicate_window_days": "30",
            "webhooks_allow_private": "on",
        },
    )
    for page_path in ("/staff/", "/staff/lead-post-utility/", url_of("add")):
        assert "webhooks_allow_private" not in ada_client.get(page_path).content.decode()
    agency.refresh_from_db()
    assert agency.webhooks_allow_private is False

    operator = User.objects.create_superuser("root", "root@leadpost.example", PASSWORD)
    ops = Client()
    ops.force_login(operator)
    form = ops.get(f"/admin/accounts/account/{agency.pk}/change/").content.decode()
    assert 'name="webhooks_allow_private"' in form
    answer = ops.post(
        f"/admin/accounts/account/{agency.pk}/change/",
        {
            "name": agency.name,
            "time_zone": agency.time_zone,
            "record_mode": agency.record_mode,
            "webhooks_allow_private": "on",
            "fallback_agent": "",
            "duplicate_window_days": "30",
        },
    )
    assert answer.status_code == 302, answer.content.decode()[:2000]
    agency.refresh_from_db()
    assert agency.webhooks_allow_private is True
    # Now the form says so, and takes a private address (never link-local).
    assert "Your operator allowed" in ada_client.get(url_of("add")).content.decode()
    ok = ada_client.post(url_of("add"), add_form("http://10.1.2.3:8080/hooks", "record.created"))
    assert ok.status_code == 200 and WebhookSubscription.objects.filter(account=agency).count() == 1
    refused = ada_client.post(url_of("add"), add_form("http://169.254.169.254/", "record.created"))
    assert "is not a public address" in refused.content.decode()


# --- hostile URLs ---------------------------------------------------------------------------


HOSTILE = [
    ("ftp://crm.example/hooks", "must start with https://"),
    ("javascript:alert(1)", "must start with https://"),
    ("crm.example/hooks", "must start with https://"),
    ("https://user:pass@crm.example/hooks", "must not hold a user name or password"),
    ("https://token@crm.example/hooks", "must not hold a user name or password"),
    ("https://crm.example/ho\x00oks", "Null characters are not allowed"),
    ("https://crm.example/ho\noks", "control characters"),
    ("https://crm.example/ho\u202eoks", "control characters"),
    (" https://crm.example/hooks", "control characters"),
    ("https://crm.example/hooks\t", "control characters"),
    ("https://crm.example/" + "a" * 1_000_000, "too long: at most 2000"),
    ("http://10.0.0.5/hooks", "is not a public address"),
    ("http://192.168.1.10/hooks", "is not a public address"),
    ("http://169.254.169.254/latest/meta-data/", "is not a public address"),
    ("http://[::ffff:10.0.0.5]/hooks", "is not a public address"),
    ("http://0.0.0.0/hooks", "is not a public address"),
    ("https://crm.example:8443/hooks", "Port 8443 is not reached"),
    ("https://crm.example:99999/hooks", "port is not a number"),
    ("https:///hooks", "no host name"),
    ("", "This field is required"),
]


@pytest.mark.parametrize(("url", "error"), HOSTILE, ids=[repr(u[:40]) for u, _ in HOSTILE])
def test_a_hostile_url_is_refused_with_a_clear_error(
    ada_client: Client, agency: Account, settings: Any, url: str, error: str
) -> None:
    settings.LEADPOST_FETCH_ALLOW_LOOPBACK = False  # as in production
    response = ada_client.post(
        url_of("add"), urlencode(add_form(url, "record.created"), doseq=True), content_type=FORM
    )
    assert response.status_code == 200
    body = response.content.decode()
    assert "errornote" in body and error in body
    assert "public address of the internet" in body  # the field's help says what is allowed
    assert not WebhookSubscription.objects.exists()


def test_loopback_is_refused_outside_the_tests_switch(
    ada_client: Client, settings: Any, receiver: Receiver
) -> None:
    settings.LEADPOST_FETCH_ALLOW_LOOPBACK = False
    response = ada_client.post(url_of("add"), add_form(receiver.url, "record.created"))
    assert "127.0.0.1 is not a public address" in response.content.decode()


@pytest.mark.parametrize("events", [[], ["record.evil"], [TEST_EVENT]])
def test_a_webhook_needs_at_least_one_real_event(
    ada_client: Client, events: list[str], receiver: Receiver
) -> None:
    response = ada_client.post(url_of("add"), add_form(receiver.url, *events))
    body = response.content.decode()
    assert ("Choose at least one event" in body) or ("Select a valid choice" in body)
    assert not WebhookSubscription.objects.exists()


def test_a_public_name_is_saved_without_being_resolved(ada_client: Client, agency: Account) -> None:
    # .invalid never resolves (RFC 2606): saving it proves no look-up is made on save.
    response = ada_client.post(
        url_of("add"), add_form("https://crm.agency.invalid/hooks", "record.created")
    )
    assert response.status_code == 200
    assert WebhookSubscription.objects.get(account=agency).url == "https://crm.agency.invalid/hooks"


# --- what a delivery's page shows of an answer ------------------------------------------------


def test_no_ssn_or_lead_post_token_of_an_echoed_answer_reaches_the_deliveries_pages(
    ada_client: Client,
    agency: Account,
    vendor_url: tuple[LeadPostUrl, str],
    hook: WebhookSubscription,
    receiver: Receiver,
    post: Any,
) -> None:
    token = vendor_url[1]
    # A careless receiver that echoes what it knows, with a token cut by the KiB at the end.
    prefix = f"error for /leadpost/{token} token={token} ssn {SSN} digits 123456789 <b>x</b> "
    # Of which the first KiB is read: it ends in the token's first 30 characters.
    receiver.answer(
        Answer(
            500,
            lambda body: (
                (prefix.encode() + body + b"." * 1024)[: 1024 - 31] + b" " + token.encode()
            ),
        )
    )
    response = post({"firstName": "Iris", "lastName": "Quill", "ssn": SSN})
    assert response.status_code == 200
    assert run_deliveries() == [DeliveryState.PENDING]
    delivery = WebhookDelivery.objects.get(subscription=hook)
    attempt = delivery.tries.get()
    assert attempt.status_code == 500
    pages = [url_of("deliveries", hook.pk), url_of("delivery", delivery.pk)]
    for path in pages:
        page = ada_client.get(path).content.decode()
        assert token[:7] not in page and token[:30] not in page, path
        assert SSN not in page and "123456789" not in page, path
        assert "<b>x</b>" not in page, path  # the answer is text, escaped
    page = ada_client.get(url_of("delivery", delivery.pk)).content.decode()
    assert "error for /leadpost/" + token[:6] + "…" in page
    assert "&lt;b&gt;x&lt;/b&gt;" in page
    assert '<td class="status">500</td>' in page


def test_an_answer_cut_at_its_kib_loses_a_partial_token_or_ssn_at_the_cut() -> None:
    token_part = "Ab3_-" * 6 + "x"  # 31 characters: too short for the token pattern
    head = ("a" * (1024 - 1 - len(token_part)) + " " + token_part).encode()
    assert len(head) == 1024
    assert token_part not in _clean_head(head)
    assert _clean_head(head).endswith(" …")
    ssn_part = ("b" * 1015 + " 123-45-6").encode()
    assert "123-45-6" not in _clean_head(ssn_part)
    # A short answer is whole: nothing is cut from its end.
    assert _clean_head(b"ok 12345") == "ok 12345"


# --- the verification examples (test_readme.py runs them and finds them in the README) ----


def test_the_webhooks_page_shows_the_examples(
    ada_client: Client, hook: WebhookSubscription
) -> None:
    page = ada_client.get(url_of("change", hook.pk)).content.decode()
    assert escape(snippets.PYTHON) in page and escape(snippets.NODE) in page


def test_redeliver_leaves_a_delivery_being_attempted_and_one_waiting_for_a_pause(
    agency: Account, hook: WebhookSubscription
) -> None:
    send_test_event(hook)
    due = tasks.dispatch(WebhookEvent.objects.get().pk)
    (delivery,) = WebhookDelivery.objects.filter(pk__in=due)
    lease = timezone.now() + dt.timedelta(minutes=1)  # a worker holds it: the attempt runs
    WebhookDelivery.objects.filter(pk=delivery.pk).update(lease_until=lease, lease_token="w1")
    assert tasks.redeliver([delivery]) == 0
    WebhookDelivery.objects.filter(pk=delivery.pk).update(
        state=DeliveryState.PAUSED, lease_until=None, lease_token=""
    )
    assert tasks.redeliver([delivery]) == 0
    assert WebhookDelivery.objects.get(pk=delivery.pk).state == DeliveryState.PAUSED
