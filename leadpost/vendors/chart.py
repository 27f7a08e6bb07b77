"""The chart of posts per day by result (SPEC §13), drawn on the server as inline SVG.

No script and no chart library: the page works without internet and without JavaScript, and every
browser shows an SVG `<title>` as a tooltip. Each day is one `<g class="day">` whose `data-*`
attributes carry its counts, so tests and scripts read the chart without guessing at pixels.
Nothing of a vendor's text is drawn; the caption is escaped like everything else.
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Mapping, Sequence

from django.utils.html import escape
from django.utils.safestring import SafeString, mark_safe

from leadpost.vendors.counts import CHART_RESULTS

# A chart day: its date and its posts by chart result (counts.Counts.by_chart_result()).
ChartDay = tuple[dt.date, Mapping[str, int]]

COLOURS: dict[str, str] = {
    "created": "#2e7d32",
    "duplicate": "#f9a825",
    "rejected": "#c62828",
    "refused": "#757575",
    "over_cap": "#6a1b9a",
}
WIDTH, HEIGHT = 960, 280
LEFT, RIGHT = 52, 28  # the last day's label may stand out past its bar
PLOT_TOP, PLOT_BOTTOM = 58, 246  # room above for the legend and the totals, below for the days
# A day's total is drawn above its bar when this many pixels per digit fit in the day's slot.
DIGIT_WIDTH = 7.0
# Day labels ("Dec 31") need about this much room each.
DAY_LABEL_ROOM = 64.0
MAX_BAR = 56.0


def _n(value: float) -> str:
    """A coordinate, short: SVG of 366 days stays small."""
    text = f"{value:.2f}".rstrip("0").rstrip(".")
    return text if text != "-0" else "0"


def day_label(day: dt.date) -> str:
    return f"{day:%b} {day.day}, {day.year}"


def _nice_step(top: int) -> int:
    """A step of 1, 2 or 5 times a power of ten giving about four grid lines up to `top`."""
    if top <= 4:
        return 1
    raw = top / 4
    power = 10 ** math.floor(math.log10(raw))
    for factor in (1, 2, 5, 10):
        if factor * power >= raw:
            return int(factor * power)
    return int(10 * power)  # pragma: no cover - the loop always returns


def _label(result: str) -> str:
    """A chart result in words ("over_cap" is "over cap")."""
    return result.replace("_", " ")


def _posts(count: int) -> str:
    return "1 post" if count == 1 else f"{count} posts"


def posts_chart(
    days: Sequence[ChartDay], *, caption: str = "Posts per day by result"
) -> SafeString:
    """Stacked bars, one per day: created, duplicate, rejected, refused and over-cap posts."""
    # Only printable characters (a NUL is no XML), and not a page of them.
    caption = "".join(c for c in caption[:200] if c.isprintable())
    count = max(len(days), 1)
    totals = [sum(int(counts.get(r, 0)) for r in CHART_RESULTS) for _, counts in days]
    highest = max(totals, default=0)
    step = _nice_step(highest)
    top = max(step, math.ceil(highest / step) * step)
    plot_width = WIDTH - LEFT - RIGHT
    plot_height = PLOT_BOTTOM - PLOT_TOP
    slot = plot_width / count
    bar = min(slot * (0.72 if slot >= 6 else 0.85), MAX_BAR)
    scale = plot_height / top

    parts: list[str] = [
        f'<svg xmlns="http://www.w3.org/2000/svg" class="posts-chart" viewBox="0 0 {WIDTH} '
        f'{HEIGHT}" width="100%" role="img" aria-label="{escape(caption)}" '
        f'data-days="{len(days)}" font-family="sans-serif" font-size="12">'
    ]
    # The legend, left to right in the bars' order from the bottom up.
    x = float(LEFT)
    for result in CHART_RESULTS:
        parts.append(
            f'<g class="legend-item" data-result="{result}"><rect x="{_n(x)}" y="8" width="12" '
            f'height="12" fill="{COLOURS[result]}"/><text x="{_n(x + 17)}" y="18">{_label(result)}'
            "</text></g>"
        )
        x += 17 + len(result) * 7.5 + 22
    # The count axis: grid lines with their values.
    parts.append('<g class="axis counts" fill="#555" text-anchor="end">')
    for value in range(0, top + 1, step):
        y = PLOT_BOTTOM - value * scale
        parts.append(
            f'<line x1="{LEFT}" x2="{WIDTH - RIGHT}" y1="{_n(y)}" y2="{_n(y)}" '
            f'stroke="{"#999" if value == 0 else "#e3e3e3"}"/>'
            f'<text x="{LEFT - 6}" y="{_n(y + 4)}">{value}</text>'
        )
    parts.append("</g>")
    if highest == 0:
        parts.append(
            f'<text class="empty" x="{_n(LEFT + plot_width / 2)}" y="{_n(PLOT_TOP + plot_height / 2)}"'
            ' text-anchor="middle" fill="#555">No posts in this period.</text>'
        )
    # The days.
    label_every = max(1, math.ceil(DAY_LABEL_ROOM / slot))
    parts.append('<g class="days">')
    for index, ((day, counts), total) in enumerate(zip(days, totals, strict=True)):
        left = LEFT + index * slot
        centre = left + slot / 2
        when = day_label(day)
        values = {r: int(counts.get(r, 0)) for r in CHART_RESULTS}
        data = " ".join(f'data-{r}="{n}"' for r, n in values.items())
        summary = ", ".join(f"{n} {_label(r)}" for r, n in values.items() if n) or "no posts"
        parts.append(
            f'<g class="day" data-day="{day.isoformat()}" data-posts="{total}" {data}>'
            # The whole column answers a hover with the day's summary; a segment with its own.
            f'<rect class="hit" x="{_n(left)}" y="{PLOT_TOP}" width="{_n(slot)}" '
            f'height="{plot_height}" fill="transparent"><title>{escape(when)}: '
            f"{_posts(total)}{' (' + summary + ')' if total else ''}"
            "</title></rect>"
        )
        y = float(PLOT_BOTTOM)
        for result, value in values.items():
            if not value:
                continue
            height = value * scale
            y -= height
            parts.append(
                f'<rect class="bar {result}" data-result="{result}" data-count="{value}" '
                f'x="{_n(centre - bar / 2)}" y="{_n(y)}" width="{_n(bar)}" '
                f'height="{_n(height)}" fill="{COLOURS[result]}"><title>{escape(when)}: '
                f"{value} {_label(result)}</title></rect>"
            )
        if total and len(str(total)) * DIGIT_WIDTH <= slot:
            parts.append(
                f'<text class="total" x="{_n(centre)}" y="{_n(y - 4)}" '
                f'text-anchor="middle">{total}</text>'
            )
        if index % label_every == 0:
            parts.append(
                f'<line class="tick" x1="{_n(centre)}" x2="{_n(centre)}" y1="{PLOT_BOTTOM}" '
                f'y2="{PLOT_BOTTOM + 4}" stroke="#999"/><text class="day-label" '
                f'x="{_n(centre)}" y="{PLOT_BOTTOM + 18}" text-anchor="middle" fill="#555">'
                f"{day:%b} {day.day}</text>"
            )
        parts.append("</g>")
    parts.append("</g></svg>")
    return mark_safe("".join(parts))  # noqa: S308 - every text above is escaped or ours
