"""Log lines as JSON objects (`LEADPOST_LOG_FORMAT=json`), and the post id of the request a line
belongs to.

One object per line, whatever the message holds: `json.dumps` escapes quotes, newlines and every
control character (NUL included), and `ensure_ascii` escapes the rest of Unicode too, so no line
separator a log shipper might split on (U+2028, U+0085) survives raw. The redacting filter
(`logredact.RedactingFilter`) runs on the handler before this formatter, as with plain lines: the
formatter only reads what the filter left (the message, `exc_text`, `stack_info`).
"""

from __future__ import annotations

import datetime as dt
import json
import logging
from contextvars import ContextVar
from typing import Any

from leadpost.lib.logredact import redact_text

PLAIN_FORMAT = "%(asctime)s %(levelname)s %(name)s %(message)s"
FORMATS = ("plain", "json")


def log_formatter(log_format: str) -> dict[str, Any]:
    """The `logging.config` formatter of `LEADPOST_LOG_FORMAT`, a new dict each call: dictConfig
    consumes the `()` key of the dict it is given."""
    if log_format == "json":
        return {"()": "leadpost.lib.jsonlog.JsonFormatter"}
    return {"format": PLAIN_FORMAT}


# The post id of the request being handled (the X-Lead-Post-Id of its answer), once it is known:
# set by the lead endpoint where it makes that header, cleared as each request starts (Django's
# `request_started`, connected by the intake app), and set by the front around the access line.
current_post_id: ContextVar[int | None] = ContextVar("leadpost_post_id", default=None)


def forget_post_id(**kwargs: Any) -> None:
    current_post_id.set(None)


class JsonFormatter(logging.Formatter):
    """`{"time", "level", "logger", "message"}`, plus `post_id`, `exception` and `stack` when
    there are."""

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "time": dt.datetime.fromtimestamp(record.created, dt.UTC).isoformat(
                timespec="milliseconds"
            ),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        post_id = current_post_id.get()
        if post_id is not None:
            entry["post_id"] = post_id
        if record.exc_info and not record.exc_text:
            # Only a handler without the filter gets here; its traceback is redacted all the same.
            record.exc_text = redact_text(self.formatException(record.exc_info))
        if record.exc_text:
            entry["exception"] = record.exc_text
        if record.stack_info:
            entry["stack"] = record.stack_info
        return json.dumps(entry, ensure_ascii=True, default=str)
