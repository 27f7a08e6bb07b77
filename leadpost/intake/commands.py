"""What the operators' commands share about Lead Post URLs."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.core.management.base import CommandError, CommandParser

from leadpost.accounts.commands import check_account
from leadpost.intake.models import LeadPostUrl, PostResult
from leadpost.lib.commands import OperatorCommand, iso, parse_id, printable, when
from leadpost.lib.tokens import PREFIX_LENGTH


def get_lead_post_url(url_id: object, account_id: object = None) -> LeadPostUrl:
    number = parse_id(url_id, "URL_ID", "Lead Post URL")
    try:
        row = LeadPostUrl.objects.select_related("account").get(pk=number)
    except LeadPostUrl.DoesNotExist:
        raise CommandError(
            f"No Lead Post URL with id {number} (see: leadpost list-urls --account ID)."
        ) from None
    check_account(row.account, account_id)
    return row


class UrlCommand(OperatorCommand):
    """A command on one Lead Post URL, named by its id (disable-url, enable-url, rotate-url)."""

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("url_id", metavar="URL_ID", help="The URL's id (see: list-urls).")
        parser.add_argument(
            "--account", help="Refuse unless the URL belongs to this account (for scripts)."
        )
        super().add_arguments(parser)

    def lead_post_url(self, options: dict[str, Any]) -> LeadPostUrl:
        return get_lead_post_url(options["url_id"], options["account"])


def counts_note() -> str:
    days = settings.LEADPOST_POST_LOG_RETENTION_DAYS
    return (
        f"Counts are of the posts the post log still keeps: the last {days} days "
        "(LEADPOST_POST_LOG_RETENTION_DAYS); older posts were purged."
    )


def url_name(row: LeadPostUrl) -> str:
    """How a line names a URL: never its token (SPEC §9), at most its first characters."""
    return (
        f"Lead Post URL {row.pk} ({printable(row.account.name)} / {printable(row.label)}, "
        f"{row.prefix[:PREFIX_LENGTH]}…)"
    )


def url_json(row: LeadPostUrl) -> dict[str, Any]:
    """What may be shown of a URL after it was issued: never its token or its hash."""
    return {
        "id": row.pk,
        "account": row.account_id,
        "label": row.label,
        "prefix": row.prefix[:PREFIX_LENGTH],
        "enabled": row.enabled,
        "createdAt": iso(row.created_at),
        "disabledAt": iso(row.disabled_at),
    }


def posts_by_result(row: Any) -> dict[str, int]:
    """The counts `LeadPostUrlQuerySet.with_post_counts` put on `row`."""
    return {str(result): int(getattr(row, f"posts_{result}")) for result in PostResult}


def url_lines(row: Any) -> list[str]:
    state = "enabled" if row.enabled else f"disabled {when(row.disabled_at, never='(no date)')}"
    counts = posts_by_result(row)
    shown = ", ".join(f"{n} {result}" for result, n in counts.items() if n) or "none"
    return [
        f"{row.pk}\t{printable(row.label)}\t{row.prefix[:PREFIX_LENGTH]}…\t{state}\t"
        f"created {when(row.created_at)}\tlast post {when(row.last_post_at)}",
        f"\tposts: {shown}",
    ]
