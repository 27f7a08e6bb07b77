"""An account's configuration as posts need it, kept per process between posts.

Every post reads the same few things about its URL and account: the URL and account rows, the
value-list entries it names, agents by name, custom-field definitions. Read from the database on
every post they were most of a post's cost (bench/README.md). They are kept here, per process and
account, and dropped when the account's `config_version` moves: every change to them bumps it in
the change's own transaction (the signal receivers below), and every post reads it with its URL
(one indexed look-up), so the post after a change on a staff page sees the change.

What is read fresh on every post: whether the URL is enabled, and the version. What a post itself
creates (a new value-list entry) is added to this process's copy once its transaction commits;
other processes find it in the database the first time they need it.
"""

from __future__ import annotations

import threading
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from django.db import DatabaseError, connection, transaction
from django.db.models import F, Model
from django.db.models.signals import m2m_changed, post_delete, post_save

from leadpost.accounts.models import Account, SecurityGroup, User
from leadpost.intake.models import LeadPostUrl
from leadpost.lib.choices import ListName
from leadpost.lib.text import list_key
from leadpost.records.actions import find_agents, find_custom_fields, find_list_values
from leadpost.records.inputs import AgentName
from leadpost.records.models import CustomField, ListValue
from leadpost.webhooks.events import subscribed_types
from leadpost.webhooks.models import WebhookSubscription

# A process keeps at most this many value-list entries (and misses) per account: a vendor posting
# a new lead source with every lead must not grow a process without end.
_MAX_LIST_ENTRIES = 5_000
_MAX_AGENT_NAMES = 1_000


@dataclass(slots=True)
class _AccountView:
    """What one process knows of one account at one `config_version`."""

    version: int
    url: LeadPostUrl  # with its account, as loaded at `version`
    lists: dict[tuple[str, str], ListValue | None] = field(default_factory=dict)
    agents: dict[AgentName, list[User]] = field(default_factory=dict)
    custom: dict[str, dict[str, CustomField]] = field(default_factory=dict)
    webhook_types: frozenset[str] | None = None


_views: dict[str, _AccountView] = {}  # by the URL's token hash
_lock = threading.Lock()  # guards replacing entries; the dicts inside are filled without it


def _url_state(token_hash: str) -> tuple[bool, int] | None:
    """(enabled, the account's config_version) of the URL with `token_hash`, in one look-up."""
    url = LeadPostUrl._meta.db_table
    account = Account._meta.db_table
    qn = connection.ops.quote_name
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT u.{qn('enabled')}, a.{qn('config_version')} FROM {qn(url)} u "  # noqa: S608
            f"INNER JOIN {qn(account)} a ON a.{qn('id')} = u.{qn('account_id')} "
            f"WHERE u.{qn('token_hash')} = %s",
            [token_hash],
        )
        row = cursor.fetchone()
    return None if row is None else (bool(row[0]), int(row[1]))


def _view(token_hash: str) -> _AccountView | None:
    state = _url_state(token_hash)
    if state is None or not state[0]:
        with _lock:
            _views.pop(token_hash, None)
        return None
    view = _views.get(token_hash)
    if view is not None and view.version == state[1]:
        return view
    url = (
        LeadPostUrl.objects.select_related("account")
        .filter(token_hash=token_hash, enabled=True)
        .first()
    )
    if url is None:
        return None
    fresh = _AccountView(version=state[1], url=url)
    with _lock:
        _views[token_hash] = fresh
    return fresh


@dataclass(frozen=True, slots=True)
class AccountConfig:
    """The URL a post came by, its account, and the account's rows a post reads."""

    _view: _AccountView

    @classmethod
    def uncached(cls, url: LeadPostUrl) -> AccountConfig:
        """The configuration of a URL a caller holds already (tests, commands): nothing of it is
        kept between calls."""
        return cls(_AccountView(version=-1, url=url))

    @property
    def url(self) -> LeadPostUrl:
        return self._view.url

    @property
    def account(self) -> Account:
        return self._view.url.account

    def list_values(self, wanted: Mapping[ListName, str]) -> dict[ListName, ListValue]:
        """The existing entries of `wanted`, matched as SPEC §5 says (one query for the ones this
        process has not seen yet, none when it has)."""
        known = self._view.lists
        missing = {n: v for n, v in wanted.items() if (n, list_key(v)) not in known}
        if missing:
            found = find_list_values(self.account, missing)
            if len(known) > _MAX_LIST_ENTRIES:
                known.clear()
            for name, value in missing.items():
                known[(name, list_key(value))] = found.get(name)
        found_now = {n: known.get((n, list_key(v))) for n, v in wanted.items()}
        return {n: row for n, row in found_now.items() if row is not None}

    def remember_list_values(self, made: Mapping[ListName, ListValue]) -> None:
        """Entries a post created, once its transaction has committed (never before: a rolled
        back entry does not exist)."""
        view = self._view

        def remember() -> None:
            for name, row in made.items():
                view.lists[(name, row.key)] = row

        transaction.on_commit(remember)

    def agents(self, names: Mapping[str, AgentName]) -> dict[AgentName, list[User]]:
        """The active users named (with `sees_sales`), for `records.actions.match_agents`."""
        known = self._view.agents
        missing = [name for name in names.values() if name not in known]
        if missing:
            if len(known) > _MAX_AGENT_NAMES:
                known.clear()
            known.update(find_agents(self.account, missing))
        return {name: known.get(name, []) for name in names.values()}

    def custom_fields(self, entity_type: str) -> dict[str, CustomField]:
        fields = self._view.custom.get(entity_type)
        if fields is None:
            fields = self._view.custom[entity_type] = find_custom_fields(self.account, entity_type)
        return fields

    def webhook_types(self) -> frozenset[str]:
        """The event types the account's webhooks take (SPEC §12): none, for most accounts,
        and then a post writes no event."""
        types = self._view.webhook_types
        if types is None:
            types = self._view.webhook_types = subscribed_types(self.account.pk)
        return types


def config_for(token_hash: str) -> AccountConfig | None:
    """The configuration behind an enabled URL with `token_hash`, else None (one statement when
    this process has already read the account at its current version)."""
    try:
        view = _view(token_hash)
    except DatabaseError:
        # A connection kept from before a database restart or fail-over fails its first
        # statement, and this read is a post's first: it changes nothing, so it is tried once
        # more on a new connection instead of answering the vendor 503 (once per kept
        # connection, after every restart). An error that is not the connection's comes back
        # the second time. Inside a transaction the caller decides.
        if connection.in_atomic_block:
            raise
        connection.close()
        view = _view(token_hash)
    return None if view is None else AccountConfig(view)


def forget_everything() -> None:
    """Drop every account this process keeps (tests that change rows behind the models' back)."""
    with _lock:
        _views.clear()


# --- what moves an account's config_version ---------------------------------------------------


def bump_config_version(account_id: int | None) -> None:
    """Tell every process that what it keeps of the account is out of date (in the caller's
    transaction: a change rolled back moves nothing)."""
    if account_id is not None:
        Account.objects.filter(pk=account_id).update(config_version=F("config_version") + 1)


def _account_of(instance: Model) -> int | None:
    if isinstance(instance, Account):
        return instance.pk
    account_id = getattr(instance, "account_id", None)
    return int(account_id) if account_id is not None else None


def _changed(sender: type[Model], instance: Model, **kwargs: Any) -> None:
    if kwargs.get("raw"):  # fixtures being loaded
        return
    if isinstance(instance, Account) and kwargs.get("created"):
        return
    bump_config_version(_account_of(instance))


def _groups_changed(sender: type[Model], instance: Model, action: str, **kwargs: Any) -> None:
    if action.startswith("post_"):
        bump_config_version(_account_of(instance))


def connect() -> None:
    """Called by the app's ready(): every model whose rows a post's configuration holds."""
    for model in (
        Account,
        LeadPostUrl,
        ListValue,
        User,
        SecurityGroup,
        CustomField,
        WebhookSubscription,
    ):
        post_save.connect(_changed, sender=model, dispatch_uid=f"config-save-{model.__name__}")
        post_delete.connect(_changed, sender=model, dispatch_uid=f"config-del-{model.__name__}")
    m2m_changed.connect(
        _groups_changed, sender=User.security_groups.through, dispatch_uid="config-groups"
    )
