"""Every URL the staff site serves, walked by everyone who should not get far (SPEC §10).

Django's admin brings views nobody wrote for tenants (CONVENTIONS, "Customer pages are a tenancy
surface"), so this walks `staff_site.get_urls()` itself rather than a list of pages: a view added
later is walked too, and one the walker does not know how to fill fails the test until someone
decides who may see it.

Each pattern is filled with a row of our agency, one of the other agency and, for users, an
operator's, and requested as an anonymous visitor, as a user of the other agency holding every
permission, as a user of our agency holding none, and as our agency's administrator. Each answer
must be no 5xx, show nothing of another account or of an operator, and follow the page's rule.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any

import pytest
from django.contrib.admin import ModelAdmin
from django.contrib.admin.models import CHANGE, LogEntry
from django.contrib.contenttypes.models import ContentType
from django.db import models
from django.test import Client
from django.urls import URLPattern, URLResolver

from leadpost.accounts.models import Account, Permission, SecurityGroup, User
from leadpost.accounts.staff import AccountScopedAdmin, staff_site
from leadpost.accounts.tests.agencies import OUR_MARKERS, THEIR_MARKERS, Agency
from leadpost.intake.models import LeadPostUrl, PostLog
from leadpost.records.models import Attachment, CustomField, ListValue, Note, Record
from leadpost.returns.models import RecordReturn
from leadpost.routing.models import (
    AgentNotification,
    AgentProfile,
    PoolMember,
    RoutingRule,
    SalesWorkflow,
    WorkflowAction,
)
from leadpost.webhooks.models import (
    WebhookAttempt,
    WebhookDelivery,
    WebhookEvent,
    WebhookSubscription,
)

# What an operator owns and no staff page may show: their user row and their own admin actions.
OPERATOR_MARKERS = ("root-ops", "ops-private-note")
# The Agency field holding each staff page's row; a model registered later must be added here.
ROW = {
    "accounts.user": "user",
    "accounts.securitygroup": "group",
    "accounts.account": "account",
    "records.individual": "individual",
    "records.salesrecord": "sales_record",
    "records.listvalue": "list_value",
    "records.customfield": "custom_field",
    "records.attachment": "attachment",
    "intake.leadposturl": "url",
    "intake.postlog": "post_log",
    "routing.routingrule": "rule",
    "routing.salesworkflow": "workflow",
    "routing.agentprofile": "agent_profile",
    "webhooks.webhooksubscription": "webhook",
}
# Pages of a model's admin that name another row than the model's: the Agency field holding it.
VIEW_ROW = {
    "webhooks_webhooksubscription_delivery": "delivery",
    "webhooks_webhooksubscription_redeliver": "delivery",
}
# A model admin's own pages beyond Django's, and what they are: a page showing rows (READ) or a
# button's POST-only view (ACTION).
OWN_PAGES = {
    "webhooks_webhooksubscription_deliveries": "deliveries",
    "webhooks_webhooksubscription_delivery": "delivery",
    "webhooks_webhooksubscription_pause": "action",
    "webhooks_webhooksubscription_resume": "action",
    "webhooks_webhooksubscription_rotate": "action",
    "webhooks_webhooksubscription_test": "action",
    "webhooks_webhooksubscription_redeliver_failed": "action",
    "webhooks_webhooksubscription_redeliver": "action",
}
# Views Django's admin brings that no staff page needs: they answer 404 where they exist at all.
NOT_SERVED = {"history", "view_on_site", "autocomplete"}
READ = {"changelist", "change", "download", "deliveries", "delivery"}  # pages that show rows
WRITE = {"add", "delete", "password", "action"}  # pages that change them
# The staff site's own views and what they need; every other view is a model's.
SITE_VIEWS: dict[str, frozenset[Permission]] = {
    "index": frozenset(),
    "password_change": frozenset(),
    "password_change_done": frozenset(),
    "jsi18n": frozenset(),
    "lead_post_utility": frozenset({Permission.SALES_ENABLEMENT, Permission.MANAGE_DATA}),
    "custom_fields_page": frozenset({Permission.MANAGE_DATA}),
    # Every account user's own switch (changes only the user's own profile: routing/tests).
    "my_lead_emails": frozenset(),
    # Vendor performance (SPEC §13): the account's figures, and a Lead Post URL's.
    "vendors": frozenset({Permission.VIEW_POST_LOG}),
    "vendors_csv": frozenset({Permission.VIEW_POST_LOG}),
    "vendor": frozenset({Permission.VIEW_POST_LOG}),
    "vendor_days_csv": frozenset({Permission.VIEW_POST_LOG}),
    "vendor_warnings_csv": frozenset({Permission.VIEW_POST_LOG}),
    # A Lead Post URL's vendor's guide (issue 15), and its printable version.
    "url_guide": frozenset({Permission.MANAGE_URLS}),
    "url_guide_print": frozenset({Permission.MANAGE_URLS}),
    # Returns (SPEC §14): the month's report and its CSV.
    "returns": frozenset({Permission.MANAGE_DATA}),
    "returns_csv": frozenset({Permission.MANAGE_DATA}),
}
# Site views that are a button's POST only: a GET is refused (405) whoever asks.
SITE_ACTIONS = {"url_guide_share", "url_guide_revoke", "return_record", "return_undo"}
# Site views that name a row in their path: the Agency field holding it.
SITE_VIEW_ROW = {
    "vendor": "url",
    "vendor_days_csv": "url",
    "vendor_warnings_csv": "url",
    **dict.fromkeys(["url_guide", "url_guide_print", "url_guide_share", "url_guide_revoke"], "url"),
    "return_record": "individual",
    "return_undo": "individual",
}


@dataclass(frozen=True)
class Url:
    """One concrete URL of the staff site, and what it is."""

    path: str
    kind: str  # a SITE_VIEWS name, "login", "logout", "app_list", "unknown", or a model page's kind
    model_admin: ModelAdmin[Any] | None = None
    owner: str | None = None  # "ours", "theirs" or "operator": whose row the URL names
    app_label: str = ""


def _patterns(
    patterns: Sequence[URLResolver | URLPattern], prefix: str = ""
) -> Iterator[tuple[str, URLPattern]]:
    for pattern in patterns:
        if isinstance(pattern, URLResolver):
            yield from _patterns(pattern.url_patterns, prefix + str(pattern.pattern))
        else:
            yield prefix + str(pattern.pattern), pattern


def _model_kind(name: str | None, model_admin: ModelAdmin[Any]) -> str:
    if name is None:
        return "redirect"  # Django's old change URL, `<id>/`, redirecting to `<id>/change/`
    if name == "auth_user_password_change":
        return "password"
    if name == "records_attachment_download":
        return "download"
    if name in OWN_PAGES:
        return OWN_PAGES[name]
    info = f"{model_admin.opts.app_label}_{model_admin.opts.model_name}_"
    kind = name.removeprefix(info)
    assert kind in {"changelist", "add", "history", "delete", "change", "agent"}, (
        f"The staff site serves {name!r}, which this walk does not know: decide who may see it "
        "and teach the walk."
    )
    return kind


def staff_urls(rows: dict[str, Agency], operator: User) -> list[Url]:
    """Every pattern of the staff site, filled with each owner's row where it takes an id."""
    admins = {
        f"{model._meta.app_label}/{model._meta.model_name}/": model_admin
        for model, model_admin in staff_site._registry.items()
    }
    urls: list[Url] = []
    for route, pattern in _patterns(staff_site.get_urls()):
        prefix = next((p for p in admins if route.startswith(p)), None)
        params = re.findall(r"<(?:\w+:)?(\w+)>", route)
        if prefix is None:
            if pattern.name == "app_list":
                labels = re.search(r"\(\?P<app_label>([\w|]+)\)", route)
                assert labels is not None
                for label in labels.group(1).split("|"):
                    urls.append(Url(f"/staff/{label}/", "app_list", app_label=label))
            elif route == "(?P<url>.*)$":  # the catch-all: any path nobody serves
                urls.append(Url("/staff/no-such-page/", "unknown"))
            elif pattern.name == "view_on_site":  # Django's shortcut to any row by content type
                record = ContentType.objects.get_for_model(Record).pk
                for owner, agency in rows.items():
                    path = f"/staff/r/{record}/{agency.individual}/"
                    urls.append(Url(path, "view_on_site", owner=owner))
            elif params:
                field = SITE_VIEW_ROW.get(pattern.name or "")
                assert field is not None and len(params) == 1, f"cannot fill {route!r}"
                for owner, agency in rows.items():
                    path = re.sub(r"<(?:\w+:)?\w+>", str(_pk(getattr(agency, field))), route)
                    urls.append(Url(f"/staff/{path}", str(pattern.name), owner=owner))
            else:
                assert pattern.name is not None, f"cannot fill {route!r}"
                urls.append(Url(f"/staff/{route}", pattern.name))
            continue
        model_admin = admins[prefix]
        kind = _model_kind(pattern.name, model_admin)
        if not params:
            urls.append(Url(f"/staff/{route}", kind, model_admin))
            continue
        assert len(params) == 1, f"cannot fill {route!r}"
        label = model_admin.opts.label_lower
        assert label in ROW, f"the walk has no row for {label}: add one to agencies.py and ROW"
        field = VIEW_ROW.get(pattern.name or "", ROW[label])
        owners: dict[str, int] = {
            owner: _pk(getattr(agency, field)) for owner, agency in rows.items()
        }
        if label == "accounts.user":
            owners["operator"] = operator.pk
        for owner, pk in owners.items():
            path = re.sub(r"<(?:\w+:)?\w+>", str(pk), route)
            urls.append(Url(f"/staff/{path}", kind, model_admin, owner))
    return urls


def _pk(value: int | models.Model) -> int:
    return value.pk if isinstance(value, models.Model) else value


def markers(agency: Agency, words: tuple[str, ...]) -> tuple[str, ...]:
    """What of `agency` no one else may see: its words, and its Lead Post URL's token prefix
    ("Datalot", our URL's label, is also the example in the URL form's help text)."""
    prefix = LeadPostUrl.objects.get(pk=agency.url).prefix
    return (*(word for word in words if word != "Datalot"), prefix)


@dataclass
class Persona:
    name: str
    user: User | None
    home: str | None  # "ours" or "theirs"
    holds: frozenset[Permission]
    foreign_markers: tuple[str, ...]  # of the other account and of operators


def body_of(response: Any) -> str:
    if getattr(response, "streaming", False):
        return b"".join(response.streaming_content).decode(errors="replace")
    return str(response.content.decode(errors="replace"))


def get(client: Client, path: str) -> tuple[Any, list[str]]:
    """The answer to GET `path`, and the bodies of it and of the staff pages it redirects to."""
    response = client.get(path)
    bodies = [body_of(response)]
    answer = response
    for _ in range(3):
        location = answer.get("Location", "") if answer.status_code in (301, 302) else ""
        if not location.startswith("/staff/"):
            break
        answer = client.get(location)
        bodies.append(body_of(answer))
    return response, bodies


def can_see_app(persona: Persona, app_label: str) -> bool:
    return any(
        model._meta.app_label == app_label
        and isinstance(model_admin, AccountScopedAdmin)
        and set(model_admin.view_needs) <= persona.holds
        for model, model_admin in staff_site._registry.items()
    )


def expected_problem(persona: Persona, url: Url, response: Any) -> str | None:
    """What is wrong with `response` to `url` for `persona`, if anything: the pages' rules."""
    status = response.status_code
    location = response.get("Location", "")
    if status >= 500:
        return f"answered {status}"
    if persona.user is None:
        if url.kind == "login":
            return None if status == 200 else f"login page answered {status}"
        if url.kind == "logout":
            return None if (status, location) == (302, "/staff/") else f"answered {status}"
        if status == 302 and location.startswith("/staff/login/?next="):
            return None
        return f"let an anonymous visitor in ({status} {location})"
    if url.kind in NOT_SERVED:
        return None if status == 404 else f"answered {status}: it is not served to staff"
    if url.owner is not None and url.owner != persona.home:
        if status == 200:
            return f"showed {url.owner}' row"
        if url.kind == "redirect":
            return None if location.endswith(f"{url.path}change/") else f"redirected to {location}"
        if status == 302 and location != "/staff/":
            return f"redirected to {location}"
        return None
    if url.kind == "redirect":
        return None if status == 302 and location.endswith(f"{url.path}change/") else "no redirect"
    if url.kind in READ:
        assert isinstance(url.model_admin, AccountScopedAdmin)
        allowed = set(url.model_admin.view_needs) <= persona.holds
        wanted = 200 if allowed else 403
        return None if status == wanted else f"answered {status}, not {wanted}"
    if url.kind == "agent":  # a record's "Change agent" page: seeing the record and Manage Data
        assert isinstance(url.model_admin, AccountScopedAdmin)
        needs = {*url.model_admin.view_needs, Permission.MANAGE_DATA}
        wanted = 200 if needs <= persona.holds else 403
        return None if status == wanted else f"answered {status}, not {wanted}"
    if url.kind in WRITE:
        if not persona.holds and status == 200:
            return "let a user holding no permission change rows"
        return None
    if url.kind in SITE_ACTIONS:
        return None if status == 405 else f"GET answered {status}, not 405"
    if url.kind in SITE_VIEWS:
        wanted = 200 if SITE_VIEWS[url.kind] <= persona.holds else 403
        return None if status == wanted else f"answered {status}, not {wanted}"
    if url.kind == "app_list":
        wanted = 200 if can_see_app(persona, url.app_label) else 404
        return None if status == wanted else f"answered {status}, not {wanted}"
    if url.kind == "login":
        return None if (status, location) == (302, "/staff/") else f"login answered {status}"
    if url.kind == "logout":
        return None if status == 405 else f"GET logout answered {status}"  # logging out is a POST
    if url.kind == "unknown":
        return None if status == 404 else f"answered {status}"
    return f"no rule for a {url.kind!r} page"


def snapshot() -> dict[str, list[dict[str, Any]]]:
    """Every row a staff page could change, to compare before and after a walk."""
    tables: list[type[models.Model]] = [
        Account,
        User,
        SecurityGroup,
        User.security_groups.through,
        Record,
        Note,
        Attachment,
        ListValue,
        CustomField,
        LeadPostUrl,
        PostLog,
        AgentProfile,
        RoutingRule,
        RoutingRule.lead_post_urls.through,
        PoolMember,
        SalesWorkflow,
        SalesWorkflow.lead_post_urls.through,
        WorkflowAction,
        AgentNotification,
        WebhookSubscription,
        WebhookEvent,
        WebhookDelivery,
        WebhookAttempt,
        RecordReturn,
    ]
    rows = {}
    for table in tables:
        values = table._default_manager.order_by("pk").values()
        rows[table._meta.label] = [
            {k: v for k, v in row.items() if k != "last_login"} for row in values
        ]
    return rows


@pytest.fixture
def operator(ours: Agency) -> User:
    """An operator, who once changed our record in the operators' admin."""
    root = User.objects.create_superuser("root-ops", "root-ops@leadpost.example", "pw-ops-7710x")
    LogEntry.objects.create(
        user=root,
        content_type=ContentType.objects.get_for_model(Record),
        object_id=str(ours.individual),
        object_repr="Iris Quillfeather",
        action_flag=CHANGE,
        change_message="ops-private-note",
    )
    return root


@pytest.fixture
def urls(ours: Agency, theirs: Agency, operator: User) -> list[Url]:
    return staff_urls({"ours": ours, "theirs": theirs}, operator)


@pytest.fixture
def personas(ours: Agency, theirs: Agency, outsider: User, staff_member) -> dict[str, Persona]:
    every = frozenset(Permission)
    of_ours = markers(ours, OUR_MARKERS)
    of_theirs = markers(theirs, THEIR_MARKERS)
    nobody = staff_member(ours.account, "quill-nobody")
    boss = staff_member(ours.account, "quill-boss", *Permission)
    return {
        "anonymous": Persona(
            "anonymous", None, None, frozenset(), of_ours + of_theirs + OPERATOR_MARKERS
        ),
        "another account's administrator": Persona(
            "outsider", outsider, "theirs", every, of_ours + OPERATOR_MARKERS
        ),
        "our user holding no permission": Persona(
            "nobody", nobody, "ours", frozenset(), of_theirs + OPERATOR_MARKERS
        ),
        "our administrator": Persona("boss", boss, "ours", every, of_theirs + OPERATOR_MARKERS),
    }


# Random values a page carries (the CSRF token, a webhook secret's last characters, event ids)
# contain a marker like "otto" now and then by chance: they are no other account's data.
_RANDOM_VALUES = re.compile(
    r'name="csrfmiddlewaretoken" value="[^"]*"|whsec_[A-Za-z0-9_-]+|…[A-Za-z0-9_-]{4}\b'
)


def without_random_values(body: str) -> str:
    return _RANDOM_VALUES.sub("", body)


PERSONAS = [
    "anonymous",
    "another account's administrator",
    "our user holding no permission",
    "our administrator",
]


@pytest.mark.parametrize("who", PERSONAS)
def test_every_staff_url_keeps_accounts_and_operators_apart(client, urls, personas, who):
    persona = personas[who]
    if persona.user is not None:
        client.force_login(persona.user)
    problems = []
    for url in urls:
        response, bodies = get(client, url.path)
        problem = expected_problem(persona, url, response)
        if problem:
            problems.append(f"{url.path}: {problem}")
        for body in bodies:
            text = without_random_values(body).lower()
            shown = [m for m in persona.foreign_markers if m.lower() in text]
            if shown:
                problems.append(f"{url.path} shows {shown}")
    assert not problems, "\n".join(problems)


@pytest.mark.parametrize("who", PERSONAS[:3])
def test_posting_to_every_staff_url_changes_nothing_that_is_not_theirs(client, urls, personas, who):
    """Posted forms (deletions confirmed) to every URL naming a row they may not change."""
    persona = personas[who]
    if persona.user is not None:
        client.force_login(persona.user)
    before = snapshot()
    for url in urls:
        if url.kind == "logout" or (persona.holds and url.owner in (None, persona.home)):
            continue
        if url.kind == "my_lead_emails":
            continue  # changes the poster's own switch, and only theirs (test_lead_email_pages)
        response = client.post(url.path, {"post": "yes"})
        assert response.status_code < 500, url.path
        for marker in persona.foreign_markers:
            assert marker.lower() not in body_of(response).lower(), url.path
    assert snapshot() == before


def test_the_staff_site_serves_no_shortcut_autocomplete_or_history(urls):
    names = {url.kind for url in urls}
    assert "view_on_site" not in names and "autocomplete" not in names
    assert {"history", "change", "changelist"} <= names  # history is walked: it answers 404


def test_the_walk_covers_every_staff_page(urls):
    walked = {url.model_admin.opts.label_lower for url in urls if url.model_admin is not None}
    assert walked == set(ROW)
    assert {url.kind for url in urls if url.model_admin is None} >= set(SITE_VIEWS) | SITE_ACTIONS
