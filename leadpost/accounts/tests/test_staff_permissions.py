"""Who reaches which staff page (SPEC §10): a matrix of pages and permissions, and account isolation.

The two agencies and their rows are in `agencies.py`; each of the other agency's pages must also
show its own rows, so an empty page cannot pass for a scoped one.
"""

from __future__ import annotations

import html
import re
from dataclasses import dataclass
from urllib.parse import parse_qs, urlsplit

import pytest
from django.contrib.contenttypes.models import ContentType
from django.test import Client

from leadpost.accounts.models import Permission, SecurityGroup, User
from leadpost.accounts.staff import AccountScopedAdmin, staff_site
from leadpost.accounts.tests.agencies import DOES_NOT_EXIST, OUR_MARKERS, Agency
from leadpost.lib.choices import RecordType
from leadpost.records.models import (
    CustomField,
    ListValue,
    Record,
)

SE = Permission.SALES_ENABLEMENT
MD = Permission.MANAGE_DATA
MU = Permission.MANAGE_URLS
LOG = Permission.VIEW_POST_LOG
USERS = Permission.MANAGE_USERS


def login(client: Client, user: User) -> Client:
    client.force_login(user)
    return client


def assert_none_of_ours(page: str, where: str) -> None:
    for marker in OUR_MARKERS:
        assert marker.lower() not in page.lower(), f"{where} shows {marker!r} of another account"


# ------------------------------------------------------------------ the permission matrix


@dataclass(frozen=True)
class StaffPage:
    name: str
    url: str  # formatted with the Agency's fields
    needs: frozenset[Permission]
    # Django admin's answer without them: 403, or for a row hidden from the page's list (a Sales
    # Record's file among attachments), the redirect to the index that says it does not exist.
    denied: int = 403

    def path(self, agency: Agency) -> str:
        return self.url.format(**agency.__dict__)


def page(name: str, url: str, *needs: Permission, denied: int = 403) -> StaffPage:
    return StaffPage(name, url, frozenset(needs), denied)


PAGES = [
    page("Individuals", "/staff/records/individual/"),
    page("an Individual", "/staff/records/individual/{individual}/change/"),
    page("Sales Records", "/staff/records/salesrecord/", SE),
    page("a Sales Record", "/staff/records/salesrecord/{sales_record}/change/", SE),
    page("attachments", "/staff/records/attachment/"),
    page("an attachment", "/staff/records/attachment/{attachment}/change/"),
    page(
        "a Sales Record's attachment",
        "/staff/records/attachment/{sales_attachment}/change/",
        SE,
        denied=302,
    ),
    page("value lists", "/staff/records/listvalue/", MD),
    page("a list value", "/staff/records/listvalue/{list_value}/change/", MD),
    page("new list value", "/staff/records/listvalue/add/", MD),
    page("custom fields", "/staff/records/customfield/", MD),
    page("a custom field", "/staff/records/customfield/{custom_field}/change/", MD),
    page("new custom field", "/staff/records/customfield/add/", MD),
    page("Lead Post URLs", "/staff/intake/leadposturl/", MU),
    page("a Lead Post URL", "/staff/intake/leadposturl/{url}/change/", MU),
    page("new Lead Post URL", "/staff/intake/leadposturl/add/", MU),
    page("post log", "/staff/intake/postlog/", LOG),
    page("a logged post", "/staff/intake/postlog/{post_log}/change/", LOG),
    page("users", "/staff/accounts/user/", USERS),
    page("a user", "/staff/accounts/user/{user}/change/", USERS),
    page("new user", "/staff/accounts/user/add/", USERS),
    page("security groups", "/staff/accounts/securitygroup/", USERS),
    page("a security group", "/staff/accounts/securitygroup/{group}/change/", USERS),
    page("new security group", "/staff/accounts/securitygroup/add/", USERS),
    page("agency settings", "/staff/accounts/account/", USERS),
    page("the agency", "/staff/accounts/account/{account.pk}/change/", USERS),
    page("Lead Post Utility", "/staff/lead-post-utility/", SE, MD),
    page("Custom Fields page (Individual)", "/staff/custom-fields/?entity_type=individual", MD),
    page("Custom Fields page (Sales Record)", "/staff/custom-fields/?entity_type=sales_record", MD),
]
# What each test user's one security group grants: nothing, each permission alone, and the pair the
# Lead Post Utility needs.
HOLDINGS: dict[str, frozenset[Permission]] = {
    "nothing": frozenset(),
    **{p.value: frozenset({p}) for p in Permission},
    "sales_enablement+manage_data": frozenset({SE, MD}),
}


@pytest.fixture
def holders(agency, staff_member) -> dict[str, User]:
    return {
        name: staff_member(agency, f"holds-{name}", *granted) for name, granted in HOLDINGS.items()
    }


@pytest.mark.parametrize("staff_page", PAGES, ids=[p.name for p in PAGES])
def test_page_is_reached_exactly_with_its_permissions(client, ours, holders, staff_page):
    path = staff_page.path(ours)
    answers = {}
    for name, user in holders.items():
        answers[name] = login(client, user).get(path).status_code
    expected = {
        name: 200 if staff_page.needs <= HOLDINGS[name] else staff_page.denied for name in holders
    }
    assert answers == expected


@pytest.mark.parametrize(
    ("path", "needed"),
    [
        ("/staff/lead-post-utility/", "Sales Enablement (Visible) and Manage Data & Custom Fields"),
        ("/staff/custom-fields/", "Manage Data & Custom Fields"),
    ],
)
def test_own_pages_say_which_permission_is_missing(client, agency, staff_member, path, needed):
    user = staff_member(agency, "carol", SE, MU, LOG, USERS)  # everything but Manage Data
    response = login(client, user).get(path)
    assert response.status_code == 403
    assert f"You need the {needed} permission" in html.unescape(response.content.decode())


def test_index_links_only_what_the_user_may_open(client, agency, holders):
    def links(user: User) -> set[str]:
        page = login(client, user).get("/staff/").content.decode()
        return set(re.findall(r'href="(/staff/[^"?]+)"', page))

    nothing = links(holders["nothing"])
    assert "/staff/records/individual/" in nothing
    assert not nothing & {
        "/staff/lead-post-utility/",
        "/staff/custom-fields/",
        "/staff/records/salesrecord/",
        "/staff/accounts/user/",
        "/staff/intake/postlog/",
    }
    manage_data = links(holders["manage_data"])
    assert "/staff/custom-fields/" in manage_data
    assert "/staff/lead-post-utility/" not in manage_data
    assert "/staff/lead-post-utility/" not in links(holders["sales_enablement"])
    both = links(holders["sales_enablement+manage_data"])
    assert {"/staff/lead-post-utility/", "/staff/records/salesrecord/"} <= both
    assert "/staff/accounts/user/" in links(holders["manage_users"])


def test_sales_record_files_need_sales_enablement(client, ours, holders):
    """A Sales Record's attachment is neither listed nor downloadable without Sales Enablement."""
    download = f"/staff/records/attachment/{ours.sales_attachment}/download/"
    without = login(client, holders["nothing"])
    assert "quill-sales.txt" not in without.get("/staff/records/attachment/").content.decode()
    assert without.get(download).status_code == 404
    with_it = login(client, holders["sales_enablement"])
    assert "quill-sales.txt" in with_it.get("/staff/records/attachment/").content.decode()
    response = with_it.get(download)
    assert response.status_code == 200
    assert b"".join(response.streaming_content) == b"scanned form"


def test_record_pages_show_custom_fields_notes_and_files_to_staff(client, ours, holders):
    login(client, holders["nothing"])
    page = client.get(f"/staff/records/individual/{ours.individual}/change/").content.decode()
    assert "Quill Value" in page and "blue" in page
    assert "Call notes quill-individual.txt" in page and "Wants a quote." in page
    download = f"/staff/records/attachment/{ours.attachment}/download/"
    assert f'href="{download}"' in page
    response = client.get(download)
    assert b"".join(response.streaming_content) == b"scanned form"


def test_every_staff_page_is_scoped_to_the_account():
    """A page registered on the staff site without AccountScopedAdmin would show every account."""
    unscoped = [
        type(model_admin).__name__
        for model_admin in staff_site._registry.values()
        if not isinstance(model_admin, AccountScopedAdmin)
    ]
    assert unscoped == []


# ------------------------------------------------------------------ the Lead Post Utility


@pytest.mark.parametrize("holding", ["nothing", "sales_enablement", "manage_data"])
def test_utility_cannot_be_changed_without_both_permissions(client, agency, holders, holding):
    response = login(client, holders[holding]).post(
        "/staff/lead-post-utility/", {"record_mode": RecordType.SALES_RECORD}
    )
    assert response.status_code == 403
    agency.refresh_from_db()
    assert agency.record_mode == RecordType.INDIVIDUAL


def test_utility_switches_only_the_users_own_account(client, agency, other_agency, holders):
    response = login(client, holders["sales_enablement+manage_data"]).post(
        "/staff/lead-post-utility/", {"record_mode": RecordType.SALES_RECORD}, follow=True
    )
    assert "Lead Post now creates Sales Enablement Leads (Sales Records)" in (
        response.content.decode()
    )
    agency.refresh_from_db()
    other_agency.refresh_from_db()
    assert agency.record_mode == RecordType.SALES_RECORD
    assert other_agency.record_mode == RecordType.INDIVIDUAL


# ------------------------------------------------------------------ another account's user

LISTS_WITH_THEIR_ROW = [
    ("/staff/", "Cornbelt Mutual"),
    ("/staff/records/individual/", "Otterfeather"),
    ("/staff/records/salesrecord/", "Otterfeather Sales"),
    ("/staff/records/attachment/", "otter-individual.txt"),
    ("/staff/records/listvalue/", "Hot Otter Lead"),
    ("/staff/records/customfield/", "Otter Value"),
    ("/staff/intake/leadposturl/", "Otter Leads"),
    ("/staff/intake/postlog/", "Otter Leads"),
    ("/staff/accounts/user/", "otto"),
    ("/staff/accounts/securitygroup/", "Otter Admins"),
    ("/staff/accounts/account/", "Cornbelt Mutual"),
    ("/staff/lead-post-utility/", "Cornbelt Mutual"),
    ("/staff/custom-fields/?entity_type=individual", "custom_Otter Value"),
    ("/staff/custom-fields/?entity_type=sales_record", "No custom fields"),
]


@pytest.mark.parametrize(("path", "theirs_shown"), LISTS_WITH_THEIR_ROW)
def test_another_account_lists_only_its_own_rows(client, ours, outsider, path, theirs_shown):
    response = login(client, outsider).get(path)
    assert response.status_code == 200
    page = response.content.decode()
    assert theirs_shown in page
    assert_none_of_ours(page, path)


@pytest.mark.parametrize(
    ("path", "query"),
    [
        ("/staff/records/individual/", "Quillfeather"),
        ("/staff/records/salesrecord/", "Quillfeather"),
        ("/staff/records/attachment/", "quill"),
        ("/staff/records/listvalue/", "Quill"),
        ("/staff/records/customfield/", "Quill"),
        ("/staff/intake/leadposturl/", "Datalot"),
        ("/staff/intake/leadposturl/", "Hawkeye"),
        ("/staff/accounts/user/", "alice"),
        ("/staff/accounts/user/", "Agent"),
    ],
)
def test_another_account_cannot_search_ours(client, ours, outsider, path, query):
    response = login(client, outsider).get(path, {"q": query})
    assert response.status_code == 200
    page = response.content.decode()
    assert re.search(r"\b0 results\b", page), f"{path}?q={query} found something"
    # The search box and links repeat the query itself; nothing else of ours may show.
    assert_none_of_ours(re.sub(re.escape(query), "", page, flags=re.I), f"{path}?q={query}")


OBJECT_PAGES = [
    "/staff/records/individual/{individual}/change/",
    "/staff/records/salesrecord/{sales_record}/change/",
    "/staff/records/attachment/{attachment}/change/",
    "/staff/records/listvalue/{list_value}/change/",
    "/staff/records/listvalue/{list_value}/delete/",
    "/staff/records/customfield/{custom_field}/change/",
    "/staff/intake/leadposturl/{url}/change/",
    "/staff/intake/postlog/{post_log}/change/",
    "/staff/accounts/user/{user}/change/",
    "/staff/accounts/securitygroup/{group}/change/",
    "/staff/accounts/account/{account.pk}/change/",
]


@pytest.mark.parametrize("url", OBJECT_PAGES)
def test_another_account_cannot_open_ours_by_id(client, ours, outsider, url):
    path = url.format(**ours.__dict__)
    response = login(client, outsider).get(path)
    assert response.status_code == 302 and response["Location"] == "/staff/"
    page = client.get("/staff/").content.decode()
    assert DOES_NOT_EXIST in page
    assert_none_of_ours(page, path)


def test_another_account_cannot_reach_ours_by_other_urls(client, ours, outsider):
    login(client, outsider)
    for path in [
        f"/staff/records/attachment/{ours.attachment}/download/",
        f"/staff/accounts/user/{ours.user}/password/",
        # Staff pages serve no history, and not Django's "view on site" shortcut, which loads
        # any row by content type and id.
        f"/staff/records/individual/{ours.individual}/history/",
        f"/staff/r/{ContentType.objects.get_for_model(Record).pk}/{ours.individual}/",
    ]:
        response = client.get(path)
        assert response.status_code == 404, path
        assert_none_of_ours(response.content.decode(), path)


def test_another_account_cannot_change_or_delete_ours(client, ours, outsider):
    alices_password = User.objects.get(pk=ours.user).password
    login(client, outsider)
    change = client.post(
        f"/staff/records/customfield/{ours.custom_field}/change/",
        {"entity_type": "individual", "name": "Hacked", "field_type": "text", "active": "on"},
    )
    delete = client.post(f"/staff/records/listvalue/{ours.list_value}/delete/", {"post": "yes"})
    password = client.post(
        f"/staff/accounts/user/{ours.user}/password/",
        {"password1": "pw-taken-over-1", "password2": "pw-taken-over-1"},
    )
    assert (change.status_code, delete.status_code, password.status_code) == (302, 302, 404)
    assert CustomField.objects.get(pk=ours.custom_field).name == "Quill Value"
    assert ListValue.objects.filter(pk=ours.list_value).exists()
    assert User.objects.get(pk=ours.user).password == alices_password


def test_related_choices_are_the_users_own_account(client, ours, outsider, staff_member, agency):
    """Security groups on the user form and every list filter offer only the account's rows."""
    login(client, outsider)
    for path, theirs_shown in [
        (f"/staff/accounts/user/{outsider.pk}/change/", "Otter Admins"),
        ("/staff/accounts/user/", "Otter Admins"),  # the security group filter
        ("/staff/records/individual/", "Hot Otter Lead"),  # status filter
        ("/staff/records/individual/", "Otto Owl"),  # servicing agent filter
        ("/staff/records/individual/", "Otter Source"),  # lead source filter
        ("/staff/intake/postlog/", "Otter Leads"),  # Lead Post URL filter
        (f"/staff/accounts/account/{outsider.account_id}/change/", "Otto Owl"),  # fallback agent
    ]:
        page = client.get(path).content.decode()
        assert theirs_shown in page, path
        assert_none_of_ours(page, path)
    # And the other way round: our user managers never see the other agency's groups.
    manager = staff_member(agency, "quill-manager", USERS, group_name="Quill Managers")
    login(client, manager)
    page = client.get(f"/staff/accounts/user/{ours.user}/change/").content.decode()
    assert "Quill Agents" in page and "Otter Admins" not in page


# ------------------------------------------------------------------ no escalation

ESCALATING_FIELDS = ("is_superuser", "is_staff", "account", "user_permissions", "groups")


def test_user_forms_have_no_escalating_fields(client, ours, staff_member, agency):
    manager = staff_member(agency, "quill-manager", USERS)
    login(client, manager)
    for path in ["/staff/accounts/user/add/", f"/staff/accounts/user/{manager.pk}/change/"]:
        page = client.get(path).content.decode()
        for field in ESCALATING_FIELDS:
            assert f'name="{field}"' not in page, f"{path} offers {field}"


def test_posted_escalating_fields_are_ignored(client, ours, outsider, staff_member, agency):
    manager = staff_member(agency, "quill-manager", USERS, first_name="Mo", last_name="Manager")
    own_group = manager.security_groups.get()
    response = login(client, manager).post(
        f"/staff/accounts/user/{manager.pk}/change/",
        {
            "username": "quill-manager",
            "first_name": "Mo",
            "last_name": "Manager",
            "email": "",
            "is_active": "on",
            "security_groups": [own_group.pk],
            "is_superuser": "on",
            "is_staff": "on",
            "account": outsider.account_id,
            "_save": "Save",
        },
    )
    assert response.status_code == 302, response.content.decode()
    manager.refresh_from_db()
    assert not manager.is_superuser and not manager.is_staff
    assert manager.account_id == agency.pk


def test_another_accounts_group_cannot_be_granted(client, ours, outsider, staff_member, agency):
    manager = staff_member(agency, "quill-manager", USERS, first_name="Mo", last_name="Manager")
    their_group = outsider.security_groups.get()
    response = login(client, manager).post(
        f"/staff/accounts/user/{manager.pk}/change/",
        {
            "username": "quill-manager",
            "first_name": "Mo",
            "last_name": "Manager",
            "is_active": "on",
            "security_groups": [their_group.pk],
            "_save": "Save",
        },
    )
    assert response.status_code == 200  # the form again, with an error
    assert "Select a valid choice" in response.content.decode()
    assert list(manager.security_groups.all()) != [their_group]
    assert not manager.has_account_permission(SE)


def test_a_user_added_by_staff_joins_their_account_and_can_log_in(client, agency, staff_member):
    manager = staff_member(agency, "quill-manager", USERS)
    response = login(client, manager).post(
        "/staff/accounts/user/add/",
        {
            "username": "dana",
            "first_name": "Dana",
            "last_name": "Dealer",
            "usable_password": "true",
            "password1": "pw-dana-7731x",
            "password2": "pw-dana-7731x",
            "_save": "Save",
        },
    )
    assert response.status_code == 302, response.content.decode()
    dana = User.objects.get(username="dana")
    assert dana.account_id == agency.pk and not dana.is_superuser
    client.logout()
    login_page = client.post(
        "/staff/login/?next=/staff/",
        {"username": "dana", "password": "pw-dana-7731x", "next": "/staff/"},
    )
    assert login_page.status_code == 302 and login_page["Location"] == "/staff/"


# ------------------------------------------------------------------ logging in, anonymous, operators


def test_staff_log_in_with_their_password(client, agency, staff_member):
    staff_member(agency, "erin", password="pw-erin-5520q")
    response = client.post(
        "/staff/login/", {"username": "erin", "password": "pw-erin-5520q", "next": "/staff/"}
    )
    assert response.status_code == 302 and response["Location"] == "/staff/"
    assert "Hawkeye Insurance" in client.get("/staff/").content.decode()


def test_users_without_an_account_or_inactive_cannot_log_in(client, agency, staff_member):
    User.objects.create_user("drifter", password="pw-drifter-1")  # no account, not an operator
    inactive = staff_member(agency, "gone", SE, MD, password="pw-gone-12345")
    inactive.is_active = False
    inactive.save()
    for username, password in [("drifter", "pw-drifter-1"), ("gone", "pw-gone-12345")]:
        response = client.post("/staff/login/", {"username": username, "password": password})
        assert response.status_code == 200, username
        assert "Please enter the correct username and password" in response.content.decode()
    client.force_login(inactive)  # a session of a user made inactive since is not honoured
    assert client.get("/staff/records/individual/").status_code == 302


@pytest.mark.parametrize("staff_page", PAGES, ids=[p.name for p in PAGES])
def test_anonymous_users_are_sent_to_the_login_page(client, ours, staff_page):
    path = staff_page.path(ours)
    response = client.get(path)
    assert response.status_code == 302
    location = urlsplit(response["Location"])
    assert location.path == "/staff/login/"
    assert parse_qs(location.query) == {"next": [path]}


def test_operators_see_every_account(client, ours, theirs, db):
    operator = User.objects.create_superuser("operator", "ops@example.com", "pw-operator-1")
    login(client, operator)
    individuals = client.get("/staff/records/individual/").content.decode()
    assert "Quillfeather" in individuals and "Otterfeather" in individuals
    found = client.get("/staff/records/individual/", {"q": "feather"}).content.decode()
    assert "Quillfeather" in found and "Otterfeather" in found
    page = client.get(f"/staff/records/salesrecord/{theirs.sales_record}/change/")
    assert page.status_code == 200 and "Otterfeather Sales" in page.content.decode()
    groups = client.get("/staff/accounts/securitygroup/").content.decode()
    assert "Quill Agents" in groups and "Otter Admins" in groups


def test_post_log_hides_sales_record_posts_without_sales_enablement(client, agency, post):
    from leadpost.accounts.models import User

    individual = post({"firstName": "Ivy", "lastName": "Individual"}).json()
    agency.record_mode = RecordType.SALES_RECORD
    agency.save()
    sales = post({"firstName": "Sam", "lastName": "Sales"}).json()
    group = SecurityGroup.objects.create(account=agency, name="Log readers", view_post_log=True)
    reader = User.objects.create_user("reader", password="pw", account=agency)
    reader.security_groups.add(group)
    client.force_login(reader)
    page = client.get("/staff/intake/postlog/").content.decode()
    assert f"/staff/intake/postlog/{individual['postId']}/change/" in page
    assert f"/staff/intake/postlog/{sales['postId']}/change/" not in page
    group.sales_enablement_visible = True
    group.save()
    page = client.get("/staff/intake/postlog/").content.decode()
    assert f"/staff/intake/postlog/{sales['postId']}/change/" in page
