"""Property tests: whatever bytes, charset or parameters a vendor sends, decoding and parsing never
raise, the endpoint never answers 5xx, and the decoder means what `urllib.parse` means."""

from __future__ import annotations

import datetime as dt
import json
from urllib.parse import unquote_to_bytes

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from leadpost.intake.form import decode_form, replace_controls
from leadpost.intake.lead import AccountConfig
from leadpost.intake.models import PostLog
from leadpost.intake.notes_parse import NOTE_PARAMETER_NAMES
from leadpost.intake.parse import STANDARD_PARAMETERS, parse_lead
from leadpost.lib.problems import Problem
from leadpost.records.models import Record

CHARSETS = [None, "utf-8", "UTF-8", "latin-1", "iso-8859-15", "cp1252", "ascii", "koi8-r"]
NAMES = sorted(STANDARD_PARAMETERS) + list(NOTE_PARAMETER_NAMES[:12]) + ["custom_X", "x"]

# Bytes that make up form bodies, weighted towards the ones with a meaning in the format.
_form_bytes = st.one_of(
    st.sampled_from([b"&", b"=", b"+", b"%", b"%00", b"%zz", b"%4", b"%C3%A9", b"\xff", b"\x00"]),
    st.binary(max_size=8),
    st.sampled_from([n.encode() for n in NAMES]),
)
bodies = st.lists(_form_bytes, max_size=40).map(b"".join)


def reference_decode(body: bytes, charset: str | None) -> dict[str, str]:
    """SPEC §2 in the words of the standard library: split on "&", then on the first "=", "+" is
    a space, unquote_to_bytes, decode (bad bytes replaced), control characters replaced, empty
    names dropped, the last value of a name wins."""
    encoding = (charset or "utf-8").strip()
    params: dict[str, str] = {}
    for pair in body.split(b"&") if body else []:
        name, _, value = pair.partition(b"=")

        def text(raw: bytes) -> str:
            return replace_controls(
                unquote_to_bytes(raw.replace(b"+", b" ")).decode(encoding, "replace")
            )

        if text(name):
            params[text(name)] = text(value)
    return params


@settings(max_examples=500, deadline=None)
@given(body=bodies, charset=st.sampled_from(CHARSETS))
def test_the_decoder_agrees_with_urllib(body: bytes, charset: str | None) -> None:
    form = decode_form(body, charset)
    assert form.params == reference_decode(body, charset)
    assert all(isinstance(w, Problem) for w in form.warnings)


@settings(max_examples=300, deadline=None)
@given(body=st.binary(max_size=2000), charset=st.sampled_from(CHARSETS))
def test_the_decoder_takes_any_bytes(body: bytes, charset: str | None) -> None:
    form = decode_form(body, charset)
    for name, value in form.params.items():
        assert name and replace_controls(name) == name and replace_controls(value) == value


values = st.one_of(
    st.text(max_size=40),
    st.sampled_from(
        [
            "",
            " ",
            "Auto",
            "123-45-6789",
            "123456789",
            "02/30/1980",
            "13/01/2020",
            "12/31/9999",
            "ß" * 200,
            "1" * 300,
            "52240-1234",
            "+1 319 555 0100",
            "javascript:alert(1)",
            "http://127.0.0.1/x",
            "aGVsbG8=",
            "\ufffd",
            "1",
            "0",
        ]
    ),
)
param_dicts = st.dictionaries(st.one_of(st.sampled_from(NAMES), st.text(max_size=12)), values)


@settings(max_examples=500, deadline=None)
@given(params=param_dicts, mode=st.sampled_from(["individual", "sales_record"]))
def test_the_parser_takes_any_parameters(params: dict[str, str], mode: str) -> None:
    lead = parse_lead(params, mode, AccountConfig(received_on=dt.date(2026, 12, 1)))  # type: ignore[arg-type]
    assert lead.rejected == (
        not params.get("firstName", "").strip() or not params.get("lastName", "").strip()
    )
    for problem in [*lead.warnings, *lead.errors]:
        assert problem.code and problem.message
        assert "123-45-6789" not in problem.message
    json.dumps([p.as_json() for p in lead.warnings])  # every warning is JSON


CONTENT_TYPES = [
    "application/x-www-form-urlencoded",
    "application/x-www-form-urlencoded; charset=latin-1",
    "application/x-www-form-urlencoded; charset=utf-16",
    "application/x-www-form-urlencoded; charset=utf-8é",
    "application/x-www-form-urlencoded; charset=",
    "text/plain",
    "",
    "multipart/form-data; boundary=x",
]


@pytest.mark.django_db
@settings(
    max_examples=200,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(
    body=st.one_of(bodies, st.binary(max_size=300)),
    content_type=st.sampled_from(CONTENT_TYPES),
    names=st.booleans(),
)
def test_the_endpoint_never_answers_5xx(client, vendor_url, body, content_type, names):
    if names:
        body = b"firstName=Jo&lastName=Do&" + body
    before = PostLog.objects.count()
    response = client.generic("POST", f"/leadpost/{vendor_url[1]}", body, content_type=content_type)
    assert response.status_code in (200, 400, 413, 415), response.content[:300]
    answer = json.loads(response.content)
    assert PostLog.objects.count() == before + 1  # every post to a known URL is logged
    if answer.get("result") == "created":
        assert Record.objects.filter(pk=answer["recordId"]).exists()
