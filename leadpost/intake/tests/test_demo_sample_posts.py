"""`leadpost demo --sample-posts N` (what `python3 dev.py demo --sample-posts N` runs): a month of a
vendor's posts through the lead endpoint's own action, counted by the vendor figures as the post
log holds them."""

from __future__ import annotations

import datetime as dt
import json
from collections import Counter
from pathlib import Path
from typing import Any

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.test import Client
from django.utils import timezone

from leadpost.accounts.models import Account
from leadpost.intake.management.commands.demo import DEMO_NAME, SAMPLE_DAYS
from leadpost.intake.models import LeadPostUrl, PostLog
from leadpost.records.models import Record
from leadpost.vendors.counts import day_start
from leadpost.vendors.figures import parse_period, report
from leadpost.vendors.models import RolledUp, VendorDay
from leadpost.vendors.rollup import MARGIN


@pytest.fixture
def demo(db: None, settings: Any, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> Any:
    """Run `leadpost demo` with these arguments; its printed JSON."""
    settings.DEV = True
    settings.DATA_DIR = tmp_path

    def run(*args: str) -> dict[str, Any]:
        capsys.readouterr()
        call_command("demo", *args, "--json")
        printed: dict[str, Any] = json.loads(capsys.readouterr().out)
        return printed

    return run


def logged(account: Account) -> dict[tuple[str, str], int]:
    rows = PostLog.objects.filter(account=account).values_list("lead_post_url__label", "result")
    return dict(Counter(rows))


def figured(account: Account) -> dict[tuple[str, str], int]:
    period = parse_period(account, {"period": str(SAMPLE_DAYS)})
    found = report(account, period, sales_visible=True)
    return {
        (vendor.url.label, result): n
        for vendor in found.vendors
        for result, n in vendor.total.results.items()
        if n
    }


def test_sample_posts_are_a_month_of_mixed_posts_the_figures_count(
    demo: Any, client: Client
) -> None:
    began = timezone.now()
    printed = demo("--sample-posts", "200")
    account = Account.objects.get(pk=printed["account"], name=DEMO_NAME)
    samples = printed["samplePosts"]
    assert samples["posts"] == 200 == PostLog.objects.filter(account=account).count()
    assert samples["vendors"] == ["Demo Vendor", "Datalot", "NextGen Leads"]

    results = Counter(PostLog.objects.filter(account=account).values_list("result", flat=True))
    assert results == samples["results"]
    assert results["created"] > 100  # mostly created
    for result in ("duplicate", "rejected", "test", "unsupported_media_type"):
        assert 0 < results[result] < 40, result
    by_vendor = Counter(PostLog.objects.filter(account=account).values_list("lead_post_url__label"))
    assert len(by_vendor) == 3

    # Spread over the last 30 days of the account, none in the future.
    now = timezone.now()
    first_day = account.local_date(now) - dt.timedelta(days=SAMPLE_DAYS - 1)
    moments = list(PostLog.objects.filter(account=account).values_list("received_at", flat=True))
    assert all(day_start(first_day, account.tz) <= m <= now for m in moments)
    assert len({account.local_date(m) for m in moments}) >= 20
    # A post dated weeks back shows the time it took, not the weeks since its received_at.
    answers = list(PostLog.objects.filter(account=account).values_list("answer_us", flat=True))
    assert all(a is not None and a < 3_600_000_000 for a in answers)

    # Records made through the real path: duplicates made none.
    assert Record.objects.filter(account=account).count() == results["created"]
    assert Record.objects.filter(account=account, servicing_agent__isnull=False).exists()

    # The closed days are rolled up; the figures equal the post log's per vendor and result.
    assert VendorDay.objects.filter(account=account).exists()
    # Up to today (yesterday still, in the roll-up's margin after midnight).
    closed = {day_start(account.local_date(t - MARGIN), account.tz) for t in (began, now)}
    assert RolledUp.objects.get(account=account).until in closed
    assert figured(account) == logged(account)

    found = report(account, parse_period(account, {"period": "30"}), sales_visible=True)
    vendors = {v.url.label: v for v in found.vendors}
    warned = {(f, c) for v in found.vendors for f, c, _ in v.total.warnings_table()}
    assert {
        ("birthDate", "invalid_date"),
        ("cellPhone", "invalid_phone"),
        ("utm_source", "unknown_parameter"),
    } <= warned
    datalot = vendors["Datalot"]
    assert datalot.price_cents == 1400
    assert datalot.total.spend_cents == 1400 * datalot.total.created
    assert any(agent for v in found.vendors for agent in v.total.agents)
    assert datalot.total.median_ms is not None

    # And the read API says the same with the printed token.
    response = client.get(
        "/api/v1/vendors?period=30", HTTP_AUTHORIZATION=f"Bearer {printed['apiToken']}"
    )
    from_api = {(v["label"], "created"): v["total"]["created"] for v in response.json()["vendors"]}
    assert from_api == {k: n for k, n in logged(account).items() if k[1] == "created"}


def test_the_line_it_prints(demo: Any, settings: Any, capsys: pytest.CaptureFixture[str]) -> None:
    settings.DEV = True
    call_command("demo", "--sample-posts", "50")
    out = capsys.readouterr().out
    (line,) = [line for line in out.splitlines() if line.startswith("Sample posts:")]
    account = Account.objects.get(name=DEMO_NAME)
    results = Counter(PostLog.objects.filter(account=account).values_list("result", flat=True))
    assert line.startswith("Sample posts: 50 to Demo Vendor, Datalot, NextGen Leads received ")
    assert f"{results['created']} created, {results['duplicate']} duplicate" in line
    assert f"{results['test']} dry runs" in line


def test_running_it_again_adds_new_leads_and_still_counts_right(demo: Any) -> None:
    first = demo("--sample-posts", "60")
    account = Account.objects.get(pk=first["account"])
    again = demo("--sample-posts", "60")
    assert again["account"] == first["account"]
    assert PostLog.objects.filter(account=account).count() == 120
    assert again["samplePosts"]["results"]["created"] > 30  # new externalIDs, not all duplicates
    # Posts after what the roll-up has counted only, so none is missing from the figures.
    until = RolledUp.objects.get(account=account).until
    newest = PostLog.objects.filter(account=account).order_by("-pk")[:60]
    assert all(p.received_at >= until for p in newest)
    assert figured(account) == logged(account)
    assert LeadPostUrl.objects.filter(account=account).count() == 3
    demo()  # and without sample posts, as before
    assert PostLog.objects.filter(account=account).count() == 120


def test_the_same_run_on_a_fresh_database_makes_the_same_posts(
    transactional_db: None, demo: Any, tmp_path: Path
) -> None:
    def made() -> list[tuple[str, str, list[tuple[str, Any]]]]:
        rows = PostLog.objects.order_by("received_at", "pk").values_list(
            "lead_post_url__label", "result", "params"
        )
        return [(label, result, sorted(params.items())) for label, result, params in rows]

    demo("--sample-posts", "80")
    once = made()
    call_command("flush", "--noinput")  # a fresh database (records keep their account)
    (tmp_path / "demo.json").unlink()
    demo("--sample-posts", "80")
    assert made() == once


@pytest.mark.parametrize("value", ["-1", "abc", "١", "10001", "1e3", "+5", " 5", "5\x00"])
def test_a_bad_count_is_refused_before_anything_is_posted(demo: Any, value: str) -> None:
    with pytest.raises(CommandError, match="--sample-posts must be a number from 0 to"):
        demo("--sample-posts", value)
    assert not PostLog.objects.exists()
