"""What may reach a log line: no URL token beyond its first 6 characters, no SSN (SPEC §9).

`RedactingFilter` sits on every handler (settings.LOGGING, the HTTP server's own logging), so the
rule holds whoever logs: Django's request logger ("Bad Request: /leadpost/<token>"), a library's
exception, our own code. It formats the record itself and replaces its message, arguments and
traceback text with the redacted result.
"""

from __future__ import annotations

import logging
import re

from leadpost.lib.ssn import mask_ssn_text

# Every segment of a path under /leadpost/ (any case, any number of slashes: a client chooses the
# path), kept to its first 6 characters.
_LEAD_POST_PATH = re.compile(r"(?i)(/leadpost/+)([^?#\s\"'<>]*)")
_SEGMENT = re.compile(r"([^/]{6})[^/]+")
# Anything shaped like one of our tokens (32 random bytes, URL-safe base64: 43 characters), wherever
# it appears: a token copied into another header, a query string, a Referer.
_TOKEN_LIKE = re.compile(r"(?<![A-Za-z0-9_-])([A-Za-z0-9_-]{6})[A-Za-z0-9_-]{26,}")
# A bearer token in a header someone logged.
_BEARER = re.compile(r"(?i)(bearer\s+)([A-Za-z0-9_\-.~+/]{6})[A-Za-z0-9_\-.~+/=]*")


def _cut_segments(match: re.Match[str]) -> str:
    return match[1] + _SEGMENT.sub(r"\1…", match[2])


def redact_text(text: str) -> str:
    """`text` as a log line may carry it: tokens cut to 6 characters, SSN shapes masked."""
    if "/leadpost" in text.lower():
        text = _LEAD_POST_PATH.sub(_cut_segments, text)
    if "earer" in text:
        text = _BEARER.sub(r"\1\2…", text)
    text = _TOKEN_LIKE.sub(r"\1…", text)
    return mask_ssn_text(text)


class RedactingFilter(logging.Filter):
    """Redacts each record in place; never drops one."""

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message = record.getMessage()
        except Exception:  # a bad format string must not lose the line, nor leak its arguments
            message = str(record.msg)
        record.msg = redact_text(message)
        record.args = None
        if record.exc_info and not record.exc_text:
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = redact_text(record.exc_text)
        if record.stack_info:
            record.stack_info = redact_text(record.stack_info)
        return True


class QuietSecurityFilter(logging.Filter):
    """Django's `django.security.*` reports (a bad Host header, a suspicious file name) are a
    client's doing, not ours: one warning line each, without the traceback an ERROR carries."""

    def filter(self, record: logging.LogRecord) -> bool:
        if record.name.startswith("django.security") and record.levelno >= logging.ERROR:
            record.levelno, record.levelname = logging.WARNING, "WARNING"
            record.exc_info, record.exc_text = None, None
        return True
