"""What a set of posts came to: the one shape of the counters, added up the same way everywhere.

A `Counts` is what the roll-up stores per URL, day and record mode (`VendorDay`), what the live
part of the figures computes from the post log's newest rows, and what the pages, the API and the
CSV show, summed over days or URLs.
"""

from __future__ import annotations

import bisect
import datetime as dt
import functools
import json
import re
from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from leadpost.intake.models import PostResult
from leadpost.lib.logredact import redact_text

# Answer-time buckets: bucket i holds the posts answered in (TIME_BOUNDS_MS[i-1], TIME_BOUNDS_MS[i]]
# milliseconds, the last one those slower than the last bound. Fine enough for a median and a
# 95th percentile within a few percent, small enough to keep per URL and day.
TIME_BOUNDS_MS: tuple[int, ...] = (
    *(1, 2, 3, 4, 5, 6, 8, 10, 12, 15, 20, 25, 30, 40, 50, 60, 80, 100, 120, 150, 200),
    *(250, 300, 400, 500, 600, 800, 1000, 1500, 2000, 3000, 5000, 10000, 20000, 30000, 60000),
)
BUCKETS = len(TIME_BOUNDS_MS) + 1

# What the figures call a refusal: a post turned away before its lead was read (SPEC §2, §3).
REFUSED: frozenset[str] = frozenset(
    {
        PostResult.UNSUPPORTED_MEDIA_TYPE,
        PostResult.TOO_LARGE,
        PostResult.RATE_LIMITED,
        PostResult.METHOD_NOT_ALLOWED,
        PostResult.CUT_SHORT,
        PostResult.UNAVAILABLE,
    }
)
# Results a chart bar is made of, in its order. A post over its URL's cap (SPEC §14) is a result
# of its own, not a refusal: its lead was read, and not bought.
CHART_RESULTS: tuple[str, ...] = ("created", "duplicate", "rejected", "refused", "over_cap")

# A warning's field is the vendor's parameter name (an unknown parameter is warned by its name),
# so a careless or hostile vendor could make any number of distinct ones: a day keeps at most
# this many, longer names cut, and the rest counted under OTHER_FIELD.
MAX_WARNING_KEYS = 200
MAX_FIELD = 100
OTHER_FIELD = "(other parameters)"
MAX_EXAMPLE = 60
MAX_MESSAGE = 240
# Parameters whose value is never shown as an example, even masked.
_SECRET_FIELDS = frozenset({"ssn"})


# What a text cut short may end in that is part of a token or an SSN cut in two: dropped before
# the rest is redacted, or the redaction would not see the part it shows.
_CUT_RUN = re.compile(r"[A-Za-z0-9_-]+\Z")


def _redacted(text: str, limit: int) -> str:
    """`text` as a log line may show it (logredact), read only up to `limit` characters."""
    if len(text) > limit:
        text = _CUT_RUN.sub("", text[:limit])
    return redact_text(text)


# Pure, and asked for every warning of every post the live figures count (a few distinct ones
# per vendor): kept, as many as a page needs.
@functools.lru_cache(maxsize=4096)
def warning_key(fieldname: str | None, code: str) -> str:
    """The counters' key of a warning: field and code, one space apart (neither holds one).

    The field is a parameter name as the vendor sent it, so it is redacted like a value: a URL's
    token or an SSN pasted as a name must not reach a page."""
    name = _printable(_redacted(fieldname or "", 1000), MAX_FIELD).replace(" ", "_")
    return f"{name} {_printable(code, MAX_FIELD).replace(' ', '_')}"


def split_key(key: str) -> tuple[str, str]:
    name, _, code = key.partition(" ")
    return name, code


def _printable(text: str, limit: int) -> str:
    """`text` without control characters or invalid code points, cut to `limit` characters."""
    if len(text) <= limit and text.isprintable():
        # The common case, without a loop per character: the live figures call this for every
        # warning of every post of today (str.isprintable is False for surrogates too).
        return text
    kept = "".join(
        c if c.isprintable() and not 0xD800 <= ord(c) <= 0xDFFF else "\N{REPLACEMENT CHARACTER}"
        for c in text[: limit + 1]
    )
    return kept if len(kept) <= limit else kept[: limit - 1] + "…"


def example_of(fieldname: str, params: Mapping[str, Any]) -> str:
    """What a warning's example shows of the value sent: from the post log's redacted parameters
    (SPEC §9), cut short, with anything shaped like an SSN or a URL token masked again."""
    if not fieldname or fieldname.lower() in _SECRET_FIELDS:
        return ""
    value = params.get(fieldname)
    if value is None:
        return ""
    text = value if isinstance(value, str) else json.dumps(value, sort_keys=True)
    return _printable(_redacted(text, 1000), MAX_EXAMPLE)


def message_of(problem: Mapping[str, Any]) -> str:
    return _printable(_redacted(str(problem.get("message", "")), 2000), MAX_MESSAGE)


def bucket_of(answer_us: int | None) -> int | None:
    if answer_us is None:
        return None
    return bisect.bisect_left(TIME_BOUNDS_MS, answer_us / 1000)


@dataclass
class Warned:
    """One warning (field and code) of a set of posts: in how many, an example, its message."""

    posts: int = 0
    example: str = ""
    message: str = ""

    def as_stored(self) -> list[Any]:
        return [self.posts, self.example, self.message]


@dataclass
class Counts:
    results: Counter[str] = field(default_factory=Counter)
    warnings: dict[str, Warned] = field(default_factory=dict)
    times: list[int] = field(default_factory=lambda: [0] * BUCKETS)
    agents: Counter[str] = field(default_factory=Counter)
    attachments_stored: int = 0
    attachments_failed: int = 0
    spend_cents: int = 0
    # Created records flagged as possible cross-vendor duplicates (SPEC §14).
    possible_duplicates: int = 0

    # --- made of -------------------------------------------------------------------------

    @classmethod
    def stored(cls, row: Any) -> Counts:
        """From a VendorDay row."""
        times = list(row.times) + [0] * (BUCKETS - len(row.times))
        return cls(
            results=Counter({str(k): int(v) for k, v in row.results.items()}),
            warnings={
                str(k): Warned(int(v[0]), str(v[1]), str(v[2]) if len(v) > 2 else "")
                for k, v in row.warnings.items()
            },
            times=times[:BUCKETS],
            agents=Counter({str(k): int(v) for k, v in row.agents.items()}),
            attachments_stored=row.attachments_stored,
            attachments_failed=row.attachments_failed,
            spend_cents=row.spend_cents,
            possible_duplicates=row.possible_duplicates,
        )

    def as_stored(self) -> dict[str, Any]:
        """The VendorDay columns."""
        return {
            "results": dict(self.results),
            "warnings": {k: w.as_stored() for k, w in self.warnings.items()},
            "times": self.times,
            "agents": dict(self.agents),
            "attachments_stored": self.attachments_stored,
            "attachments_failed": self.attachments_failed,
            "spend_cents": self.spend_cents,
            "possible_duplicates": self.possible_duplicates,
        }

    def count_post(
        self,
        result: str,
        warnings: Iterable[Mapping[str, Any]],
        answer_us: int | None,
        agent_id: int | None,
        price_cents: int | None,
        flagged: bool = False,
    ) -> list[str]:
        """Add one post (`flagged`: its record is a possible duplicate); returns the keys of its
        warnings that have no example yet."""
        self.results[result] += 1
        bucket = bucket_of(answer_us)
        if bucket is not None:
            self.times[bucket] += 1
        if result == PostResult.CREATED:
            self.agents[str(agent_id or "")] += 1
            if price_cents:
                self.spend_cents += price_cents
            if flagged:
                self.possible_duplicates += 1
        wanting = []
        seen: set[str] = set()
        for problem in warnings:
            key = warning_key(problem.get("field"), str(problem.get("code", "")))
            if key not in self.warnings and len(self.warnings) >= MAX_WARNING_KEYS:
                key = warning_key(OTHER_FIELD, str(problem.get("code", "")))
            if key in seen:  # a share of posts: once per post however often it is warned
                continue
            seen.add(key)
            warned = self.warnings.get(key)
            if warned is None:
                warned = self.warnings[key] = Warned(message=message_of(problem))
            warned.posts += 1
            if not warned.example and split_key(key)[0] not in ("", OTHER_FIELD):
                wanting.append(key)
        return wanting

    def add(self, other: Counts) -> None:
        self.results.update(other.results)
        for key, warned in other.warnings.items():
            mine = self.warnings.get(key)
            if mine is None:
                self.warnings[key] = Warned(warned.posts, warned.example, warned.message)
            else:
                mine.posts += warned.posts
                mine.example = mine.example or warned.example
                mine.message = mine.message or warned.message
        self.times = [a + b for a, b in zip(self.times, other.times, strict=True)]
        self.agents.update(other.agents)
        self.attachments_stored += other.attachments_stored
        self.attachments_failed += other.attachments_failed
        self.spend_cents += other.spend_cents
        self.possible_duplicates += other.possible_duplicates

    # --- read as ---------------------------------------------------------------------------

    @property
    def posts(self) -> int:
        """Every post but dry runs."""
        return sum(n for result, n in self.results.items() if result != PostResult.TEST)

    @property
    def created(self) -> int:
        return self.results[PostResult.CREATED]

    @property
    def duplicate(self) -> int:
        return self.results[PostResult.DUPLICATE]

    @property
    def rejected(self) -> int:
        return self.results[PostResult.REJECTED]

    @property
    def refused(self) -> int:
        return sum(n for result, n in self.results.items() if result in REFUSED)

    @property
    def over_cap(self) -> int:
        return self.results[PostResult.OVER_CAP]

    @property
    def dry_runs(self) -> int:
        return self.results[PostResult.TEST]

    def by_chart_result(self) -> dict[str, int]:
        return {
            "created": self.created,
            "duplicate": self.duplicate,
            "rejected": self.rejected,
            "refused": self.refused,
            "over_cap": self.over_cap,
        }

    def rate(self, count: int) -> float | None:
        """`count` as a share of the posts; None without posts."""
        return count / self.posts if self.posts else None

    @property
    def answered(self) -> int:
        return sum(self.times)

    def percentile_ms(self, share: float) -> float | None:
        """The answer time below which `share` of the timed posts fell, read from the buckets
        (linear within a bucket); None without timed posts."""
        total = self.answered
        if not total:
            return None
        rank = share * total
        seen = 0
        for index, count in enumerate(self.times):
            if count and seen + count >= rank:
                low = TIME_BOUNDS_MS[index - 1] if index else 0
                high = TIME_BOUNDS_MS[index] if index < len(TIME_BOUNDS_MS) else low
                return round(low + (high - low) * max(0.0, rank - seen) / count, 1)
            seen += count
        return float(TIME_BOUNDS_MS[-1])

    @property
    def median_ms(self) -> float | None:
        return self.percentile_ms(0.5)

    @property
    def p95_ms(self) -> float | None:
        return self.percentile_ms(0.95)

    def warnings_table(self) -> list[tuple[str, str, Warned]]:
        """(field, code, warned), most posts first."""
        rows = [(*split_key(key), warned) for key, warned in self.warnings.items()]
        return sorted(rows, key=lambda row: (-row[2].posts, row[0], row[1]))


def day_start(day: dt.date, tz: dt.tzinfo) -> dt.datetime:
    """The instant a day of a time zone begins, in UTC."""
    return dt.datetime.combine(day, dt.time(), tzinfo=tz).astimezone(dt.UTC)
