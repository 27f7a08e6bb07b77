"""`LEADPOST_LOG_FORMAT=json`: one JSON object per line, whatever a message holds, still redacted
(no URL token beyond 6 characters, no SSN: SPEC §9), with the post id of the request."""

from __future__ import annotations

import io
import json
import logging
import threading
import time
from collections.abc import Callable
from typing import Any

import httpx
import pytest

from leadpost.intake.models import LeadPostUrl
from leadpost.lib.jsonlog import JsonFormatter, current_post_id, forget_post_id
from leadpost.lib.logredact import RedactingFilter

TOKEN = "Zq3xW9-v_Kp2Lm8Rt5Yb1Nc7Hd4Jf6Gs0Qa2We9Xu"  # shaped like a Lead Post URL token
SSN = "123-45-6789"
FORM = {"Content-Type": "application/x-www-form-urlencoded"}


def _logger(stream: io.StringIO) -> logging.Logger:
    handler = logging.StreamHandler(stream)
    handler.addFilter(RedactingFilter())
    handler.setFormatter(JsonFormatter())
    logger = logging.getLogger("leadpost.tests.jsonlog")
    logger.handlers = [handler]
    logger.propagate = False
    logger.setLevel(logging.INFO)
    return logger


def test_a_hostile_message_is_one_valid_redacted_json_line():
    forget_post_id()  # as a request starts
    stream = io.StringIO()
    logger = _logger(stream)
    hostile = 'quote " backslash \\ newline \n return \r NUL \x00 sep \u2028 nel \x85 end'
    reset = current_post_id.set(4711)
    try:
        try:
            raise ValueError(f"bad token {TOKEN} with ssn {SSN}")
        except ValueError:
            logger.exception("post to /leadpost/%s said %s (%s)", TOKEN, hostile, SSN)
    finally:
        current_post_id.reset(reset)
    logger.info("outside a request")

    output = stream.getvalue()
    lines = output.splitlines()  # splits on U+2028 and NEL too: none may be left raw
    assert len(lines) == 2 and output.count("\n") == 2
    first, second = (json.loads(line) for line in lines)
    assert set(first) == {"time", "level", "logger", "message", "post_id", "exception"}
    assert (first["level"], first["logger"], first["post_id"]) == (
        "ERROR",
        "leadpost.tests.jsonlog",
        4711,
    )
    assert first["message"].startswith('post to /leadpost/Zq3xW9… said quote " backslash \\')
    assert "\n return \r NUL \x00 sep \u2028 nel \x85 end" in first["message"]
    assert "ValueError: bad token Zq3xW9…" in first["exception"]
    assert "post_id" not in second
    for text in (output, first["message"], first["exception"]):
        assert TOKEN[:7] not in text
        assert SSN not in text and "123456789" not in text


def test_a_new_request_does_not_carry_the_last_posts_id(post):
    assert post({"firstName": "Ann", "lastName": "Lee"}).status_code == 200
    assert current_post_id.get() is not None  # this thread's context, after the post
    assert post({"firstName": "Ann"}, suffix="/nowhere").status_code == 404
    assert current_post_id.get() is None  # cleared as the next request started


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("served_env", [{"LEADPOST_LOG_FORMAT": "json"}])
def test_the_served_log_is_json_lines_with_each_posts_id_and_no_secret(
    served: str, served_log: Callable[[], str], agency: Any
) -> None:
    _, token = LeadPostUrl.issue(agency, "Datalot")
    url = f"{served}/leadpost/{token}"
    created = httpx.post(
        url, content=f"firstName=Ann&lastName=Lee&ssn={SSN}&notes={SSN}", headers=FORM
    )
    rejected = httpx.post(url, content=f"firstName={SSN}", headers=FORM)
    # A path with a quote, a line break and a NUL in it reaches Django's "Not Found" line.
    odd = httpx.post(f"{served}/leadpost/{token}/x%22y%0Az%00", content=b"", headers=FORM)
    assert (created.status_code, rejected.status_code, odd.status_code) == (200, 400, 404)
    ids = {int(created.headers["x-lead-post-id"]), int(rejected.headers["x-lead-post-id"])}

    def entries() -> list[dict[str, Any]]:
        return [json.loads(line) for line in served_log().splitlines() if line]

    deadline = time.monotonic() + 20
    pause = threading.Event()
    while True:  # the access line of the last answer is written once it is sent
        found = [e for e in entries() if e["logger"] == "leadpost.access"]
        if len(found) >= 4:  # the fixture's probe for the server being up, then ours
            break
        assert time.monotonic() < deadline, served_log()
        pause.wait(0.05)

    everything = entries()  # every line parses: one object per line, none broken
    assert all({"time", "level", "logger", "message"} <= set(e) for e in everything)
    assert any(e["logger"] == "_granian" for e in everything)  # the server's own lines too
    access = [e for e in everything if e["logger"] == "leadpost.access"]
    assert {e["post_id"] for e in access if "post_id" in e} == ids
    bad_request = [e for e in everything if e["message"].startswith("Bad Request")]
    assert [e["post_id"] for e in bad_request] == [int(rejected.headers["x-lead-post-id"])]
    not_found = [e for e in everything if e["message"].startswith("Not Found: /leadpost/")]
    assert [e["message"] for e in not_found] == [
        "Not Found: /leadpost/not-a-…",
        # Django escapes control characters of a path itself; the quote is JSON's to escape.
        f'Not Found: /leadpost/{token[:6]}…/x"y\\nz\\x00',
    ]
    assert all("post_id" not in e for e in not_found)  # no post-log row: no post id
    raw = served_log()
    assert token[:7] not in raw
    assert SSN not in raw and "123456789" not in raw
