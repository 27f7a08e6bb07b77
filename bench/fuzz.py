#!/usr/bin/env python3
"""Hostile posts against `leadpost serve`: every answer recorded, then the invariants checked.

    .venv/bin/python bench/fuzz.py                       # 20,000 posts, SQLite, a random seed
    .venv/bin/python bench/fuzz.py -n 2000 --seed 7      # the same 2,000 posts as last time
    DATABASE_URL=postgres://u:p@127.0.0.1:5432/x .venv/bin/python bench/fuzz.py

Starts Leadpost as production does (bench/service.py: `leadpost serve` with its background worker,
a fresh data folder and database; behind-a-proxy mode so that X-Forwarded-For is read), then sends
-n requests from --concurrency threads over raw sockets, each one drawn from a seeded generator
(case i depends on the seed and i only, so a run is repeatable whatever the thread timing): valid
leads, retries of an externalID, NUL and control characters, invalid UTF-8, odd charsets, 1 MB
values, 100,000+ parameters, repeated parameters, casefold-expanding list values, SSN-shaped values
in every kind of field, broken %-escapes, base64 files good and bad, attachment URLs (loopback
addresses only, in every spelling: a canary listens there and counts any fetch), X-Forwarded-For
and Host garbage, wrong content types, chunked bodies, bodies cut short, declared lengths over the
limit, other methods, paths under /leadpost/ that are not a URL, unknown and disabled tokens, query
strings, malformed HTTP.

Afterwards it prints every status and result seen (overall and per kind) and checks: no 5xx; every
created/duplicate recordId exists and reads back through the API; records = distinct created answers
(a record without one is a lost answer); every answer from the known URL has its post-log row with
the same status; every answer under /leadpost/ is JSON; cut-short bodies, dry runs and refused
posts made no record; chunked leads were read whole; attachment URLs were refused, never fetched;
no URL token (beyond 6 characters) and no SSN the fuzz sent in the server's output, the post log,
the answers or the read API. Exit status 0 when every check holds, 1 otherwise.
"""

from __future__ import annotations

import argparse
import base64
import contextlib
import json
import os
import random
import re
import secrets
import shutil
import socket
import sys
import tempfile
import threading
import time
from collections import Counter, defaultdict
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor, as_completed
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import quote, quote_plus

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.leads import typical_lead
from bench.rawhttp import Answer, build, chunked, exchange
from bench.service import ROOT, Service, machine, snapshot_of_head, tree_state

FORM = "application/x-www-form-urlencoded"
BIG = 1_000_000  # bytes of a "1 MB value"
SSN_DASHED = re.compile(r"(?<![0-9])[0-9]{3}-[0-9]{2}-[0-9]{4}(?![0-9])")
SSN_DIGITS = re.compile(r"(?<![0-9])[0-9]{9}(?![0-9])")


# What one request is, and what came back ---------------------------------------------------------


@dataclass
class Case:
    i: int
    kind: str
    label: str = ""
    request: bytes = b""
    then: str = "read"  # rawhttp.exchange: "read", "half-close", "close"
    head: bool = False
    to_known: bool = False  # a POST to the fuzz URL (or its /test): logged, answered with a post id
    json_required: bool = True  # the path is under /leadpost/ and the request is valid HTTP
    external_id: str | None = None
    no_record: bool = False  # must not make a record (cut short, dry run, refused, not a URL)
    must_store: bool = False  # a valid lead (chunked): must be answered created or duplicate
    canary: bool = False  # carries attachment URLs to the loopback canary
    ssns: list[tuple[str, str]] = field(default_factory=list)  # (SSN, where it was put)


@dataclass
class Outcome:
    i: int
    kind: str
    label: str
    status: int | None
    result: str | None
    record_id: int | None
    post_id: int | None  # the postId of the body, else the X-Lead-Post-Id header
    header_id: int | None  # the X-Lead-Post-Id header
    error: str | None
    seconds: float
    json_ok: bool | None  # None: not asked (HEAD, malformed HTTP, a path outside /leadpost/)
    allow: str | None
    to_known: bool
    ssn_in_answer: list[str]
    snippet: str = ""


@dataclass
class Context:
    seed: int
    n: int
    token: str
    disabled: str
    canary_hosts: list[str]  # "127.0.0.1", "[::1]", ... with ":port" unless the port is 80


# Building bodies ----------------------------------------------------------------------------------

Pair = tuple[str | bytes, str | bytes]


def enc(text: str, encoding: str = "utf-8") -> bytes:
    # A browser sends what the charset cannot encode as &#NNNN; (xmlcharrefreplace).
    return quote(text, safe="", encoding=encoding, errors="xmlcharrefreplace").encode("ascii")


def form(pairs: Iterable[Pair], encoding: str = "utf-8") -> bytes:
    """A urlencoded body; str parts are percent-encoded, bytes parts go in as written."""
    out = []
    for name, value in pairs:
        n = name if isinstance(name, bytes) else enc(name, encoding)
        v = value if isinstance(value, bytes) else enc(value, encoding)
        out.append(n + b"=" + v)
    return b"&".join(out)


FIRST_NAMES = ["Jane", "José", "Zoë", "Li", "O'Brien", "Anne-Marie", "Ørjan", "Nguyễn", "Ruth"]
LAST_NAMES = ["Doe", "Müller", "Smith-Jones", "de la Cruz", "Ōta", "Ng", "MacDonald"]


class Builder:
    """One case's random choices: a lead with a fresh externalID and SSN, and the request."""

    def __init__(self, ctx: Context, i: int, kind: str) -> None:
        self.ctx = ctx
        self.rng = random.Random(f"{ctx.seed}:{i}")
        self.case = Case(i=i, kind=kind)
        self.path = f"/leadpost/{ctx.token}"

    def pick(self, options: list[str]) -> str:
        choice = self.rng.choice(options)
        self.case.label = choice
        return choice

    def ssn(self, where: str, digits_only: bool = False) -> str:
        area = self.rng.choice([a for a in range(1, 900) if a != 666])
        value = f"{area:03d}-{self.rng.randrange(1, 100):02d}-{self.rng.randrange(1, 10000):04d}"
        self.case.ssns.append((value, where))
        return value.replace("-", "") if digits_only else value

    def external_id(self) -> str:
        ext = f"fz{self.ctx.seed}-{self.case.i}"
        self.case.external_id = ext
        return ext

    def lead(self, ext: str | None = None) -> dict[str, str]:
        params = typical_lead(ext or self.external_id())
        for key in list(params):
            if key not in ("firstName", "lastName", "externalID") and self.rng.random() < 0.1:
                del params[key]
        params["firstName"] = self.rng.choice(FIRST_NAMES)
        params["lastName"] = self.rng.choice(LAST_NAMES)
        if "ssn" in params:
            params["ssn"] = self.ssn("ssn", digits_only=self.rng.random() < 0.3)
        return params

    def pairs(self, ext: str | None = None) -> list[Pair]:
        return list(self.lead(ext).items())

    def post(
        self,
        body: bytes,
        *,
        headers: list[tuple[str, str | bytes]] | None = None,
        path: str | None = None,
        method: str = "POST",
        content_type: str | None = FORM,
        to_known: bool = True,
        content_length: bool = True,
    ) -> None:
        given: list[tuple[str, str | bytes]] = []
        if content_type is not None:
            given.append(("Content-Type", content_type))
        if not any(name.lower() == "user-agent" for name, _ in headers or []):
            given.append(("User-Agent", "leadpost-fuzz/1"))
        given.append(("Connection", "close"))
        given += headers or []
        self.case.request = build(
            method, path or self.path, given, body, content_length=content_length
        )
        self.case.to_known = to_known and method == "POST"


# The kinds of hostile post --------------------------------------------------------------------


def k_valid(b: Builder) -> None:
    params = b.lead()
    pairs: list[Pair] = list(params.items())
    how = b.pick(
        [
            "plain",
            "trailing-slash",
            "plus-spaces",
            "charset-utf-8",
            "upper-media-type",
            "media-type-params",
            "expect-100",
            "absolute-form",
            "x-forwarded-proto",
        ]
    )
    body = form(pairs)
    if how == "plus-spaces":
        body = "&".join(f"{quote_plus(n)}={quote_plus(v)}" for n, v in params.items()).encode()
    headers: list[tuple[str, str | bytes]] = []
    ctype = FORM
    path = b.path
    if how == "trailing-slash":
        path += "/"
    elif how == "charset-utf-8":
        ctype = FORM + "; charset=UTF-8"
    elif how == "upper-media-type":
        ctype = FORM.upper()
    elif how == "media-type-params":
        ctype = FORM + ' ; foo="bar; baz" ; charset="utf-8"'
    elif how == "expect-100":
        headers.append(("Expect", "100-continue"))
    elif how == "absolute-form":
        path = "http://127.0.0.1" + path
    elif how == "x-forwarded-proto":
        headers.append(("X-Forwarded-Proto", "https"))
    b.post(body, headers=headers, path=path, content_type=ctype)


def k_duplicate(b: Builder) -> None:
    # Several cases share each externalID: the first to commit is created, the others (retries,
    # some of them concurrent) must be answered duplicate with the same record.
    group = b.rng.randrange(max(1, b.ctx.n // 40))
    ext = f"fz{b.ctx.seed}-dup-{group}"
    b.case.external_id = ext
    b.case.label = "retry"
    b.post(form(b.pairs(ext)))


def k_dry_run(b: Builder) -> None:
    suffix = b.pick(["/test", "/test/"])
    b.case.no_record = True
    b.post(form(b.pairs()), path=b.path + suffix)


CONTROLS = [f"%{c:02X}".encode() for c in [*range(0, 9), 11, 12, *range(14, 32), 127]]


def k_control_chars(b: Builder) -> None:
    pairs = b.pairs()
    how = b.pick(
        [
            "nul-in-firstName",
            "controls-in-values",
            "nul-in-name",
            "nul-name-and-value",
            "raw-control-bytes",
            "c1-controls",
            "unicode-specials",
            "nul-in-list-values",
            "nul-in-note-and-file-name",
            "nul-in-custom-name",
            "nul-in-externalID",
        ]
    )
    rng = b.rng
    if how == "nul-in-firstName":
        pairs.append(("firstName", b"A%00B"))
    elif how == "controls-in-values":
        for _ in range(3):
            j = rng.randrange(len(pairs))
            name, value = pairs[j]
            control = rng.choice(CONTROLS)
            if isinstance(value, bytes):
                pairs[j] = (name, value + control)
            else:
                pairs[j] = (name, enc(value[:3]) + control + enc(value[3:]))
    elif how == "nul-in-name":
        pairs += [(b"x%00y", b"a%00b"), (b"first%00Name", "Zed")]
    elif how == "nul-name-and-value":
        pairs += [(b"%00", b"%00"), (b"%00%01%02", "x")]
    elif how == "raw-control-bytes":
        pairs += [("title", b"Dr\x00\x01\x7f."), (b"city\x00", b"Iowa\x1bCity")]
    elif how == "c1-controls":
        pairs += [("title", b"Mr%C2%85%C2%9B"), ("street2", b"%C2%80%C2%9F")]
    elif how == "unicode-specials":
        pairs += [("title", "\u202eevil\u2028line\ufeff\uffff"), ("city", b"%EF%BF%BE")]
    elif how == "nul-in-list-values":
        pairs += [("status", b"New%00"), ("leadSource", b"Data%00lot"), ("type", b"%00")]
    elif how == "nul-in-note-and-file-name":
        data = base64.b64encode(rng.randbytes(300)).decode()
        pairs += [
            ("attachment_note_1_subject_text", b"Sub%00ject"),
            ("attachment_note_1_body_text", b"Bo%00dy%01"),
            ("attach_file_to_note_1", "1"),
            ("attachment_note_1_file_name_1", b"a%00b.pdf"),
            ("attachment_note_1_file_body_1", data),
        ]
    elif how == "nul-in-custom-name":
        pairs += [(b"custom_Policy%00Type", "Term"), (b"custom_Notes", b"x%00y")]
    elif how == "nul-in-externalID":
        pairs.append(("externalID", enc(b.case.external_id or "") + b"%00"))
        b.case.external_id = None
    b.post(form(pairs))


BAD_UTF8 = [
    b"%FF",
    b"%FE%FF",
    b"%C3%28",
    b"%ED%A0%80",
    b"%F4%90%80%80",
    b"%C0%AF",
    b"%E2%82",
    b"\xff",
    b"\xc3",
    b"%80",
    b"%F8%88%80%80%80",
]


def k_invalid_utf8(b: Builder) -> None:
    pairs = b.pairs()
    where = b.pick(["values", "names", "list-values", "file-name", "everywhere", "externalID"])
    bad = b.rng.choice(BAD_UTF8)
    if where == "values":
        pairs += [("firstName", b"Jo" + bad + b"e"), ("city", bad), ("title", bad + bad)]
    elif where == "names":
        pairs += [(b"first" + bad + b"Name", "x"), (bad, "y")]
    elif where == "list-values":
        pairs += [("status", b"New" + bad), ("leadSource", bad), ("projectCode", bad * 3)]
    elif where == "file-name":
        pairs += [
            ("attachment_note_1_subject_text", "s"),
            ("attachment_note_1_body_text", "b"),
            ("attach_file_to_note_1", "1"),
            ("attachment_note_1_file_name_1", b"r" + bad + b".pdf"),
            ("attachment_note_1_file_body_1", base64.b64encode(b"%PDF-1.4").decode()),
        ]
    elif where == "externalID":
        pairs.append(("externalID", enc(b.case.external_id or "") + bad))
        b.case.external_id = None
    else:
        pairs = [(n, (v if isinstance(v, bytes) else enc(v)) + bad) for n, v in pairs]
        b.case.external_id = None
    b.post(form(pairs))


CHARSETS = [
    "latin-1",
    "iso-8859-1",
    "windows-1252",
    "utf-16",
    "utf-16le",
    "utf-32",
    "utf-8é",
    "utf-8\xe9",
    "garbage",
    "",
    '"utf-8"',
    "'utf-8'",
    "base64",
    "zlib",
    "rot13",
    "idna",
    "cp037",
    "utf-7",
    "punycode",
    "unicode_escape",
    "raw_unicode_escape",
    "hex",
    "utf8; charset=latin-1",
    "x" * 300,
    "UTF8",
    "ascii",
    "koi8-r",
    "shift_jis",
    "utf-8-sig",
    "%00",
]


def k_charset(b: Builder) -> None:
    charset = b.pick(CHARSETS)
    pairs = b.pairs()
    pairs.append(("title", "Señora"))
    body: bytes
    if charset in ("latin-1", "iso-8859-1", "windows-1252"):
        body = form(pairs, encoding="latin-1")
    elif charset.startswith("utf-16") or charset == "utf-32":
        body = form(pairs).decode("ascii").encode(charset)
    elif charset in ("koi8-r", "shift_jis"):
        body = form(pairs, encoding=charset if charset != "koi8-r" else "koi8_r")
    else:
        body = form(pairs)
    ctype: str | bytes = FORM + "; charset=" + charset
    if charset == "utf-8é":
        ctype = (FORM + "; charset=utf-8é").encode("utf-8")
    b.case.request = build(
        "POST",
        b.path,
        [("Content-Type", ctype), ("User-Agent", "leadpost-fuzz/1"), ("Connection", "close")],
        body,
    )
    b.case.to_known = True


BIG_FIELDS = [
    "firstName",
    "lastName",
    "title",
    "city",
    "street1",
    "email",
    "status",
    "leadSource",
    "type",
    "externalID",
    "zip",
    "county",
    "middleInitial",
    "homePhone",
    "ssn",
    "birthDate",
    "servicingAgentFirstName",
    "custom_Policy Type",
    "custom_Notes",
    "custom_Coverage Amount",
    "attachment_note_1_body_text",
    "attachment_note_1_subject_text",
    "unknownParameter",
    "(the name)",
]


def k_big_value(b: Builder) -> None:
    where = b.pick(BIG_FIELDS)
    fill = b.rng.choice(["ascii", "escaped-utf8", "plus", "escapes"])
    b.case.label = f"{where}:{fill}"
    value: bytes
    if fill == "ascii":
        value = b"a" * BIG
    elif fill == "escaped-utf8":
        value = b"%C3%A9" * (BIG // 6)
    elif fill == "plus":
        value = b"+" * BIG
    else:
        value = b"%41" * (BIG // 3)
    pairs = b.pairs()
    if where == "(the name)":
        pairs.append((value, "x"))
    else:
        if where == "externalID":
            b.case.external_id = None
        pairs.append((where, value))
    b.post(form(pairs))


def k_many_params(b: Builder) -> None:
    how = b.pick(
        [
            "distinct-names",
            "one-name-repeated",
            "empty-pairs",
            "lead-after-the-limit",
            "custom-fields",
            "notes",
            "near-known-names",
        ]
    )
    lead = form(b.pairs())
    count = 120_000
    if how == "distinct-names":
        body = lead + b"&" + b"&".join(b"p%d=1" % j for j in range(count))
    elif how == "one-name-repeated":
        body = lead + b"&" + b"a=1&" * count
    elif how == "empty-pairs":
        body = b"&" * BIG + lead
    elif how == "lead-after-the-limit":
        body = b"&".join(b"q%d=" % j for j in range(110_000)) + b"&" + lead
    elif how == "custom-fields":
        body = lead + b"&" + b"&".join(b"custom_F%d=x" % j for j in range(30_000))
    elif how == "notes":
        body = (
            lead + b"&" + b"&".join(b"attachment_note_%d_subject_text=s" % j for j in range(30_000))
        )
    else:
        body = (
            lead + b"&" + b"&".join(b"firstNam%d=x&FirstName%d=y" % (j, j) for j in range(20_000))
        )
    b.post(body)


def k_repeated(b: Builder) -> None:
    pairs = b.pairs()
    how = b.pick(
        [
            "firstName-twice",
            "ssn-twice",
            "externalID-twice",
            "every-field-twice",
            "status-1000-times",
            "note-twice",
        ]
    )
    if how == "firstName-twice":
        pairs.append(("firstName", "Second"))
    elif how == "ssn-twice":
        pairs.append(("ssn", b.ssn("ssn (repeated)")))
    elif how == "externalID-twice":
        ext = f"fz{b.ctx.seed}-{b.case.i}-second"
        pairs.append(("externalID", ext))
        b.case.external_id = ext
    elif how == "every-field-twice":
        pairs = pairs + pairs
    elif how == "status-1000-times":
        pairs += [("status", f"S{j}") for j in range(1000)]
    else:
        pairs += [
            ("attachment_note_1_subject_text", "again"),
            ("attachment_note_1_body_text", "again"),
        ]
    b.post(form(pairs))


def k_casefold(b: Builder) -> None:
    field_name = b.rng.choice(["status", "leadSource", "type", "projectCode", "custom_Policy Type"])
    value = b.rng.choice(["ß" * 200, "ﬃ" * 200, "İ" * 200, "ΐ" * 120, " ß " * 90, "ẞ" * 255])
    b.case.label = f"{field_name}:{value.strip()[0]}x{len(value)}"
    pairs = b.pairs()
    pairs.append((field_name, value))
    b.post(form(pairs))


SSN_PLACES = [
    "homePhone",
    "cellPhone",
    "businessPhone",
    "custom_Notes",
    "custom_Policy Type",
    "custom_Unknown",
    "attachment_note_1_subject_text",
    "attachment_note_1_body_text",
    "title",
    "city",
    "street1",
    "email",
    "zip",
    "county",
    "firstName",
    "leadSourceOther",
    "externalID",
    "status",
    "leadSource",
    "social",
    "SSN",
    "(the name)",
    "ssn (with spaces)",
    "servicingAgentFirstName",
    "middleInitial",
    "birthDate",
    "gender",
    "file name",
    "query string",
    "User-Agent",
]


def k_ssn_fields(b: Builder) -> None:
    places = b.rng.sample(SSN_PLACES, b.rng.randint(1, 4))
    b.case.label = "+".join(sorted(places))
    pairs = b.pairs()
    headers: list[tuple[str, str | bytes]] = []
    path = b.path
    for place in places:
        # Nine digits alone are an SSN everywhere but zip and externalID (SPEC §9).
        digits = place not in ("zip", "externalID", "email") and b.rng.random() < 0.3
        ssn = b.ssn(place, digits_only=digits)
        if place == "(the name)":
            pairs.append((ssn, "x"))
        elif place == "ssn (with spaces)":
            pairs.append(("ssn", b.case.ssns[-1][0].replace("-", " ")))
        elif place == "email":
            pairs.append(("email", f"{ssn}@example.com"))
        elif place == "firstName":
            pairs.append(("firstName", f"Jane {ssn}"))
        elif place == "externalID":
            ext = f"fz{b.ctx.seed}-{b.case.i}-{ssn}"
            pairs.append(("externalID", ext))
            b.case.external_id = ext
        elif place == "file name":
            pairs += [
                ("attachment_note_2_subject_text", "Scan"),
                ("attachment_note_2_body_text", "ID card"),
                ("attach_file_to_note_2", "1"),
                ("attachment_note_2_file_name_1", f"{ssn}.pdf"),
                ("attachment_note_2_file_body_1", base64.b64encode(b"%PDF-1.4 x").decode()),
            ]
        elif place == "query string":
            path += ("&" if "?" in path else "?") + f"ssn={ssn}&note={quote(ssn)}"
        elif place == "User-Agent":
            headers.append(("User-Agent", f"vendor-client ssn={ssn}"))
        elif place in ("attachment_note_1_subject_text", "attachment_note_1_body_text"):
            pairs += [
                ("attachment_note_1_subject_text", f"SSN {ssn}"),
                ("attachment_note_1_body_text", f"Customer's SSN is {ssn}, call back."),
            ]
        else:
            pairs.append((place, ssn))
    b.post(form(pairs), headers=headers, path=path)


def k_bad_escape(b: Builder) -> None:
    pairs = b.pairs()
    bad = b.pick(
        ["%", "%G1", "%4", "100%", "%%41", "%u00e9", "%2", "%zz%", "%-many", "trailing-%", "name%"]
    )
    if bad == "%-many":
        pairs.append(("title", b"%" * 20_000))
    elif bad == "trailing-%":
        b.post(form(pairs) + b"%")
        return
    elif bad == "name%":
        pairs.append((b"first%Name", "x"))
        pairs.append((b"last%4Name", b"%"))
    else:
        pairs += [("title", bad.encode()), ("city", b"Iowa" + bad.encode() + b"City")]
    b.post(form(pairs))


def k_base64_file(b: Builder) -> None:
    rng = b.rng
    content = rng.randbytes(rng.randint(1, 20_000))
    good = base64.b64encode(content).decode()
    how = b.pick(
        [
            "good",
            "urlsafe",
            "whitespace",
            "no-padding",
            "bad-chars",
            "bad-length",
            "empty",
            "only-padding",
            "data-url",
            "long-name",
            "path-traversal",
            "reserved-names",
            "unicode-name",
            "six-files",
            "six-notes",
            "not-attached",
            "body-and-url",
        ]
    )
    body_value = good
    name = "policy.pdf"
    extra: list[Pair] = []
    if how == "urlsafe":
        body_value = base64.urlsafe_b64encode(content).decode()
    elif how == "whitespace":
        body_value = "\n".join(good[j : j + 76] for j in range(0, len(good), 76)) + " \t "
    elif how == "no-padding":
        body_value = good.rstrip("=")
    elif how == "bad-chars":
        body_value = good[:40] + "!!!@@@" + good[40:]
    elif how == "bad-length":
        body_value = good[:-1] if len(good) > 4 else "abc"
    elif how == "empty":
        body_value = ""
    elif how == "only-padding":
        body_value = "===="
    elif how == "data-url":
        body_value = "data:application/pdf;base64," + good
    elif how == "long-name":
        name = "a" * 300 + ".pdf"
    elif how == "path-traversal":
        name = rng.choice(["../../etc/passwd", "..\\..\\win.ini", "/etc/shadow", "....//x.pdf"])
    elif how == "reserved-names":
        name = rng.choice([".htaccess", "...", "CON", "nul.txt", 'a:b*c?d"e<f>g|h.pdf', " "])
    elif how == "unicode-name":
        name = rng.choice(["résumé.pdf", "gpj.exe\u202epdf", "文件.pdf", "\u0000.pdf"])
    elif how == "six-files":
        extra = [
            pair
            for m in range(2, 7)
            for pair in (
                (f"attachment_note_1_file_name_{m}", f"f{m}.bin"),
                (f"attachment_note_1_file_body_{m}", base64.b64encode(b"x" * m).decode()),
            )
        ]
    elif how == "six-notes":
        extra = [
            pair
            for n in range(2, 7)
            for pair in (
                (f"attachment_note_{n}_subject_text", f"Note {n}"),
                (f"attachment_note_{n}_body_text", f"Body {n}"),
            )
        ]
    elif how == "body-and-url":
        extra = [
            ("attachment_note_1_file_url_1", f"http://{b.ctx.canary_hosts[0]}/both-{b.case.i}")
        ]
        b.case.canary = True
    pairs = b.pairs()
    pairs += [
        ("attachment_note_1_subject_text", "Documents"),
        ("attachment_note_1_body_text", "Scanned."),
        ("attach_file_to_note_1", "0" if how == "not-attached" else "1"),
        ("attachment_note_1_file_name_1", name),
        ("attachment_note_1_file_body_1", body_value),
        *extra,
    ]
    b.post(form(pairs))


def canary_urls(ctx: Context, i: int) -> list[str]:
    """Attachment URLs that all lead to this machine's loopback, in many spellings."""
    marker = f"canary-{i}"
    urls = [f"http://{host}/{marker}" for host in ctx.canary_hosts]
    v4 = next(h for h in ctx.canary_hosts if h.startswith("127.0.0.1"))
    port = v4.partition(":")[2]
    suffix = f":{port}" if port else ""  # the others take 127.0.0.1's port
    for host in [
        "localhost",
        "LOCALHOST",
        "0.0.0.0",
        "0",
        "127.1",
        "127.000.000.001",
        "2130706433",
        "0x7f000001",
        "0177.0.0.1",
        "[::ffff:127.0.0.1]",
        "[::ffff:7f00:1]",
        "[::127.0.0.1]",
        "[0:0:0:0:0:0:0:1]",
        "user:pass@127.0.0.1",
    ]:
        urls.append(f"http://{host}{suffix}/{marker}")
    urls += [
        f"https://127.0.0.1/{marker}",
        f"HTTP://127.0.0.1{suffix}/{marker}",
        f" http://127.0.0.1{suffix}/{marker}",
        f"http://127.0.0.1:8080/{marker}",
        f"http://127.0.0.1{suffix}/{marker}/%00",
        f"http://127.0.0.1{suffix}/{marker}/" + "a" * 3000,
        f"ftp://127.0.0.1/{marker}",
        "file:///etc/passwd",
        f"gopher://127.0.0.1:80/{marker}",
        "javascript:alert(1)",
        f"//127.0.0.1/{marker}",
        f"http:/127.0.0.1/{marker}",
        "http://[::1",
        "http://",
    ]
    return urls


def k_url_attachment(b: Builder) -> None:
    options = canary_urls(b.ctx, b.case.i)
    chosen = b.rng.sample(options, b.rng.randint(1, 5))
    b.case.label = " ".join(sorted(u.replace(f"canary-{b.case.i}", "*") for u in chosen))[:120]
    b.case.canary = True
    pairs = b.pairs()
    pairs += [
        ("attachment_note_1_subject_text", "Linked documents"),
        ("attachment_note_1_body_text", "See the files."),
        ("attach_file_to_note_1", "1"),
    ]
    for m, url in enumerate(chosen, start=1):
        pairs += [
            (f"attachment_note_1_file_name_{m}", f"linked-{m}.pdf"),
            (f"attachment_note_1_file_url_{m}", url),
        ]
    b.post(form(pairs))


XFF = [
    "unknown",
    "",
    "garbage",
    "1.2.3.4, unknown",
    "unknown, unknown",
    "999.999.999.999",
    "::1",
    "[::1]:443",
    "fe80::1%eth0",
    "203.0.113.7:5678",
    "<script>alert(1)</script>",
    "a" * 5000,
    "127.0.0.1\x00",
    ", , ,",
    "2001:db8::1, 203.0.113.7",
    "203.0.113.7, 198.51.100.1, 2001:db8::2",
    "1.2.3.4 5.6.7.8",
    "٣.٣.٣.٣",
    "0x7f.1",
]


def k_xff(b: Builder) -> None:
    value = b.pick(XFF)
    b.case.label = value[:40]
    headers: list[tuple[str, str | bytes]] = [("X-Forwarded-For", value)]
    extra = b.rng.choice([None, ("X-Real-IP", "unknown"), ("Forwarded", "for=unknown;proto=x")])
    if extra:
        headers.append(extra)
    if b.rng.random() < 0.2:
        headers.append(("X-Forwarded-For", "second, header"))
    b.post(form(b.pairs()), headers=headers)
    # A NUL in a header is not HTTP (RFC 9110 §5.5): the HTTP server may refuse it as such.
    b.case.json_required = "\x00" not in value


def k_bad_host(b: Builder) -> None:
    how = b.pick(
        [
            "Host: evil.example",
            "Host: (empty)",
            "Host: 127.0.0.1:99999",
            "Host: [::1",
            "Host: long",
            "two Host headers",
            "X-Forwarded-Host: evil.example",
            "X-Forwarded-Host: garbage",
        ]
    )
    headers: list[tuple[str, str | bytes]] = []
    if how == "Host: evil.example":
        headers.append(("Host", "evil.example"))
    elif how == "Host: (empty)":
        headers.append(("Host", ""))
    elif how == "Host: 127.0.0.1:99999":
        headers.append(("Host", "127.0.0.1:99999"))
    elif how == "Host: [::1":
        headers.append(("Host", "[::1"))
    elif how == "Host: long":
        headers.append(("Host", "h" * 4000))
    elif how == "two Host headers":
        headers += [("Host", "127.0.0.1"), ("Host", "evil.example")]
        b.case.json_required = False  # RFC 9112 §3.2: the HTTP server must answer 400 itself
    elif how == "X-Forwarded-Host: evil.example":
        headers.append(("X-Forwarded-Host", "evil.example"))
    else:
        headers.append(("X-Forwarded-Host", "\x01\x02, ,"))
        # RFC 9110 §5.5: control characters make the field invalid: the HTTP server answers 400
        # itself, before any application sees a request.
        b.case.json_required = False
    b.post(form(b.pairs()), headers=headers, to_known=False)


CONTENT_TYPES = [
    "text/plain",
    "application/json",
    "multipart/form-data; boundary=XyZ",
    "(none)",
    "application/x-www-form-urlencodedx",
    "application/x-www-form-urlencoded, text/plain",
    "two headers",
    "*/*",
    "\x00",
    "x" * 5000,
    "application/x-www-form-urlencoded;",
    "APPLICATION/X-WWW-FORM-URLENCODED; CHARSET=UTF-8",
    "application/xml",
    "",
]


def k_content_type(b: Builder) -> None:
    ctype = b.pick(CONTENT_TYPES)
    b.case.label = ctype[:50]
    b.case.json_required = "\x00" not in ctype  # not HTTP (RFC 9110 §5.5), as in k_xff
    params = b.lead()
    body = form(params.items())
    headers: list[tuple[str, str | bytes]] = []
    content_type: str | None = ctype
    if ctype == "application/json":
        body = json.dumps(params).encode()
    elif ctype.startswith("multipart/"):
        parts = [
            f'--XyZ\r\nContent-Disposition: form-data; name="{k}"\r\n\r\n{v}\r\n'
            for k, v in params.items()
        ]
        body = ("".join(parts) + "--XyZ--\r\n").encode()
    elif ctype == "(none)":
        content_type = None
    elif ctype == "two headers":
        content_type = FORM
        headers.append(("Content-Type", "text/plain"))
    b.post(body, headers=headers, content_type=content_type)


def k_chunked(b: Builder) -> None:
    how = b.pick(
        [
            "valid",
            "valid-extensions",
            "valid-trailer",
            "valid-1-byte-chunks",
            "te-capitalised",
            "with-content-length",
            "cut-short",
            "no-final-chunk",
            "bad-size",
            "gzip-chunked",
            "huge-size",
        ]
    )
    body = form(b.pairs())
    sizes = [b.rng.choice([1, 7, 100, 1000, 4096]) for _ in range(4)]
    te = "Chunked" if how == "te-capitalised" else "chunked"
    headers: list[tuple[str, str | bytes]] = [("Transfer-Encoding", te)]
    data = chunked(body, sizes)
    b.case.must_store = how.startswith("valid") or how == "te-capitalised"
    if how == "valid-extensions":
        data = chunked(body, sizes, extension=b";name=value")
    elif how == "valid-trailer":
        data = data[: -len(b"\r\n")] + b"X-Trailer: yes\r\n\r\n"
    elif how == "valid-1-byte-chunks":
        data = chunked(body, [1])
    elif how == "with-content-length":
        headers.append(("Content-Length", "5"))
    elif how == "cut-short":
        data = data[: len(data) // 2]
        b.case.then = "half-close"
        b.case.no_record = True
    elif how == "no-final-chunk":
        data = data[: -len(b"0\r\n\r\n")]
        b.case.then = "half-close"
        b.case.no_record = True
    elif how == "bad-size":
        data = b"zz\r\n" + data
        b.case.json_required = False
    elif how == "gzip-chunked":
        headers = [("Transfer-Encoding", "gzip, chunked")]
        b.case.json_required = False
    elif how == "huge-size":
        data = b"ffffffffffffffffff\r\n" + body
        b.case.json_required = False
        b.case.then = "half-close"
    b.post(data, headers=headers, content_length=False)


def k_short_body(b: Builder) -> None:
    how = b.pick(["half-close", "close", "cut-in-a-value", "headers-only", "longer-than-declared"])
    body = form(b.pairs())
    b.case.no_record = how != "longer-than-declared"
    declared = len(body) + b.rng.choice([1, 10, 1000, 100_000])
    sent = body
    if how == "cut-in-a-value":
        sent = body[: b.rng.randrange(40, len(body))]
        declared = len(body)
    elif how == "headers-only":
        sent = b""
    elif how == "longer-than-declared":
        declared = len(body)
        sent = body + b"&GARBAGE" * 10
    head = build(
        "POST",
        b.path,
        [
            ("Content-Type", FORM),
            ("User-Agent", "leadpost-fuzz/1"),
            ("Connection", "close"),
            ("Content-Length", str(declared)),
        ],
    )
    b.case.request = head + sent
    b.case.to_known = True
    b.case.then = "close" if how == "close" else "half-close"


def k_too_large(b: Builder) -> None:
    declared = b.pick(["67108865", "100000000", "1099511627776", "99999999999999999999"])
    head = build(
        "POST",
        b.path,
        [("Content-Type", FORM), ("Content-Length", declared), ("Connection", "close")],
    )
    b.case.request = head + form(b.pairs())[:1024]
    b.case.to_known = True
    b.case.no_record = True
    # Past 2**63 the HTTP server cannot read the number at all: its own 400 is fair.
    b.case.json_required = int(declared) < 2**63


def k_method(b: Builder) -> None:
    method = b.pick(["GET", "PUT", "DELETE", "PATCH", "HEAD", "OPTIONS", "TRACE", "FOO", "get"])
    body = form(b.pairs()) if method in ("PUT", "PATCH", "FOO") else b""
    b.case.head = method == "HEAD"
    b.case.json_required = method != "HEAD"
    b.case.no_record = True
    path = b.path + b.rng.choice(["", "/", "/test"])
    b.post(body, method=method, path=path, content_type=FORM if body else None, to_known=False)


def k_bad_path(b: Builder) -> None:
    token = b.ctx.token
    how = b.pick(
        [
            "/leadpost/",
            "/leadpost",
            "/leadpost//",
            "/leadpost/TOKEN/x",
            "/leadpost/TOKEN/test/x",
            "/leadpost/TOKEN//",
            "/leadpost//TOKEN",
            "/leadpost/TOKEN%2Fx",
            "/leadpost/TOKEN%00",
            "/leadpost/%00",
            "/leadpost/TOKEN;x",
            "/leadpost/TOKEN/../TOKEN/x",
            "/leadpost/long",
            "/leadpost/%E9%FF",
            "/leadpost/TOKEN/test/test",
            "/LEADPOST/TOKEN",
            "/x/../leadpost/TOKEN",
        ]
    )
    path = how.replace("TOKEN", token)
    if how == "/leadpost/long":
        path = "/leadpost/" + "a" * 5000
    b.case.json_required = how.startswith("/leadpost")
    b.case.no_record = how != "/x/../leadpost/TOKEN"  # a server may normalise that one
    b.post(form(b.pairs()), path=path, to_known=False)


def k_unknown_token(b: Builder) -> None:
    token = b.ctx.token
    how = b.pick(
        ["random", "disabled", "one-char-changed", "upper-case", "prefix-only", "longer", "short"]
    )
    other = {
        "random": secrets.token_urlsafe(32),
        "disabled": b.ctx.disabled,
        "one-char-changed": token[:-1] + ("A" if token[-1] != "A" else "B"),
        "upper-case": token.upper(),
        "prefix-only": token[:6],
        "longer": token + "x",
        "short": "abc",
    }[how]
    if other == token:  # an all-upper-case token: vanishingly rare, but not a wrong one
        other = secrets.token_urlsafe(32)
    b.case.no_record = True
    b.post(
        form(b.pairs()),
        path=f"/leadpost/{other}" + b.rng.choice(["", "/", "/test"]),
        to_known=False,
    )


def k_query_string(b: Builder) -> None:
    how = b.pick(["fields", "ssn", "nul", "long"])
    query = {
        "fields": "firstName=Q&lastName=R",
        "ssn": f"ssn={b.ssn('query string')}",
        "nul": "x=%00&%00=y",
        "long": "q=" + "z" * 6000,
    }[how]
    b.post(form(b.pairs()), path=f"{b.path}?{query}")


def k_bad_http(b: Builder) -> None:
    how = b.pick(
        [
            "extra-in-request-line",
            "no-version",
            "HTTP/2.0",
            "HTTP/1.2",
            "double-space",
            "nul-in-header",
            "header-without-colon",
            "long-header",
            "many-headers",
            "obs-fold",
            "content-length-abc",
            "content-length-negative",
            "two-content-lengths",
            "content-length-plus",
            "lf-only",
            "garbage",
            "nul-in-request-line",
            "long-request-line",
            "cl-and-te-smuggling",
        ]
    )
    b.case.json_required = False
    body = form(b.pairs())
    path = b.path
    std = f"Host: 127.0.0.1\r\nContent-Type: {FORM}\r\nConnection: close\r\n"
    cl = f"Content-Length: {len(body)}\r\n"
    raw: bytes
    if how == "extra-in-request-line":
        raw = f"POST {path} HTTP/1.1 extra\r\n{std}{cl}\r\n".encode() + body
    elif how == "no-version":
        raw = f"POST {path}\r\n{std}{cl}\r\n".encode() + body
    elif how in ("HTTP/2.0", "HTTP/1.2"):
        raw = f"POST {path} {how}\r\n{std}{cl}\r\n".encode() + body
    elif how == "double-space":
        raw = f"POST  {path}  HTTP/1.1\r\n{std}{cl}\r\n".encode() + body
    elif how == "nul-in-header":
        raw = f"POST {path} HTTP/1.1\r\n{std}{cl}X-A: a\x00b\r\n\r\n".encode() + body
    elif how == "header-without-colon":
        raw = f"POST {path} HTTP/1.1\r\n{std}{cl}NoColonHere\r\n\r\n".encode() + body
    elif how == "long-header":
        raw = f"POST {path} HTTP/1.1\r\n{std}{cl}X-Long: {'a' * 20_000}\r\n\r\n".encode() + body
    elif how == "many-headers":
        many = "".join(f"X-H{j}: {j}\r\n" for j in range(300))
        raw = f"POST {path} HTTP/1.1\r\n{std}{cl}{many}\r\n".encode() + body
    elif how == "obs-fold":
        raw = f"POST {path} HTTP/1.1\r\n{std}{cl}X-Fold: a\r\n b\r\n\r\n".encode() + body
    elif how == "content-length-abc":
        raw = f"POST {path} HTTP/1.1\r\n{std}Content-Length: abc\r\n\r\n".encode() + body
    elif how == "content-length-negative":
        raw = f"POST {path} HTTP/1.1\r\n{std}Content-Length: -1\r\n\r\n".encode() + body
    elif how == "two-content-lengths":
        raw = (
            f"POST {path} HTTP/1.1\r\n{std}{cl}Content-Length: {len(body) // 2}\r\n\r\n".encode()
            + body
        )
    elif how == "content-length-plus":
        raw = f"POST {path} HTTP/1.1\r\n{std}Content-Length: +{len(body)}\r\n\r\n".encode() + body
    elif how == "lf-only":
        raw = f"POST {path} HTTP/1.1\n{std}{cl}\n".replace("\r\n", "\n").encode() + body
    elif how == "garbage":
        raw = b.rng.randbytes(200)
    elif how == "nul-in-request-line":
        raw = f"POST {path}\x00 HTTP/1.1\r\n{std}{cl}\r\n".encode() + body
    elif how == "long-request-line":
        raw = f"POST {path}?{'q' * 20_000} HTTP/1.1\r\n{std}{cl}\r\n".encode() + body
    else:
        inner = f"POST {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: 11\r\n\r\nfirstName=S"
        smuggled = b"0\r\n\r\n" + inner.encode()
        raw = (
            f"POST {path} HTTP/1.1\r\n{std}Content-Length: 4\r\nTransfer-Encoding: chunked\r\n\r\n"
        ).encode() + smuggled
    b.case.request = raw


Kind = Callable[[Builder], None]
# (kind, weight): the mix, in % of the posts.
KINDS: list[tuple[str, Kind, float]] = [
    ("valid", k_valid, 18),
    ("duplicate", k_duplicate, 6),
    ("dry_run", k_dry_run, 2),
    ("control_chars", k_control_chars, 6),
    ("invalid_utf8", k_invalid_utf8, 5),
    ("charset", k_charset, 5),
    ("big_value", k_big_value, 2),
    ("many_params", k_many_params, 1),
    ("repeated", k_repeated, 4),
    ("casefold", k_casefold, 3),
    ("ssn_fields", k_ssn_fields, 8),
    ("bad_escape", k_bad_escape, 4),
    ("base64_file", k_base64_file, 4),
    ("url_attachment", k_url_attachment, 3),
    ("xff", k_xff, 4),
    ("bad_host", k_bad_host, 1),
    ("content_type", k_content_type, 3),
    ("chunked", k_chunked, 4),
    ("short_body", k_short_body, 4),
    ("too_large", k_too_large, 1),
    ("method", k_method, 3),
    ("bad_path", k_bad_path, 3),
    ("unknown_token", k_unknown_token, 3),
    ("query_string", k_query_string, 2),
    ("bad_http", k_bad_http, 1),
]


def make_case(ctx: Context, i: int) -> Case:
    chooser = random.Random(f"{ctx.seed}:kind:{i}")
    name, kind, _ = chooser.choices(KINDS, weights=[w for _, _, w in KINDS])[0]
    builder = Builder(ctx, i, name)
    kind(builder)
    return builder.case


# Sending ------------------------------------------------------------------------------------------


def ssn_forms(ssn: str) -> tuple[str, str]:
    return ssn, ssn.replace("-", "")


def run_case(port: int, case: Case, timeout: float) -> Outcome:
    answer: Answer = exchange(port, case.request, timeout=timeout, head=case.head, then=case.then)
    result = None
    record_id = post_id = header_id = None
    json_ok: bool | None = None
    snippet = ""
    if answer.status is not None:
        payload: Any = None
        with contextlib.suppress(ValueError):
            payload = json.loads(answer.body)
        is_json = isinstance(payload, dict) and answer.headers.get("content-type", "").startswith(
            "application/json"
        )
        if case.json_required:
            json_ok = is_json
        if isinstance(payload, dict):
            result = payload.get("result") if isinstance(payload.get("result"), str) else None
            rid = payload.get("recordId")
            record_id = rid if isinstance(rid, int) else None
            pid = payload.get("postId")
            post_id = pid if isinstance(pid, int) else None
        header = answer.headers.get("x-lead-post-id")
        if header and header.isdigit():
            header_id = int(header)
            post_id = post_id if post_id is not None else header_id
        if answer.status >= 500 or not is_json:
            snippet = answer.body[:200].decode("utf-8", "replace")
    text = answer.body.decode("utf-8", "replace")
    leaked = [where for ssn, where in case.ssns if any(form_ in text for form_ in ssn_forms(ssn))]
    return Outcome(
        i=case.i,
        kind=case.kind,
        label=case.label,
        status=answer.status,
        result=result,
        record_id=record_id,
        post_id=post_id,
        header_id=header_id,
        error=answer.error,
        seconds=answer.seconds,
        json_ok=json_ok,
        allow=answer.headers.get("allow"),
        # A post to the known URL that the server could parse as HTTP and that waited for its answer.
        to_known=case.to_known and case.json_required and case.then == "read",
        ssn_in_answer=leaked,
        snippet=snippet,
    )


# The canary: anything that connects to it was fetched, and must not have been ----------------


class Canary:
    """TCP listeners on loopback addresses, on port 80 (and 443) when free, as the fetcher only
    allows those (else on a free port, which then also tests the port rule); every connection is
    counted with the first line it sent."""

    def __init__(self) -> None:
        self.hits: list[str] = []
        self.lock = threading.Lock()
        self.sockets: list[socket.socket] = []
        self.hosts: list[str] = []  # for URLs: "127.0.0.1", "[::1]:40123", ...
        self.stop = threading.Event()
        for address, family in (
            ("127.0.0.1", socket.AF_INET),
            ("127.0.0.2", socket.AF_INET),
            ("::1", socket.AF_INET6),
        ):
            host = f"[{address}]" if family == socket.AF_INET6 else address
            port = self._listen(address, family, 80) or self._listen(address, family, 0)
            if port:
                self.hosts.append(host if port == 80 else f"{host}:{port}")
            self._listen(address, family, 443)

    def _listen(self, address: str, family: socket.AddressFamily, port: int) -> int:
        sock = socket.socket(family, socket.SOCK_STREAM)
        try:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            sock.bind((address, port))
            sock.listen(64)
        except OSError:
            sock.close()
            return 0
        sock.settimeout(0.5)
        self.sockets.append(sock)
        threading.Thread(target=self._serve, args=(sock,), daemon=True).start()
        bound: int = sock.getsockname()[1]
        return bound

    def _serve(self, sock: socket.socket) -> None:
        while not self.stop.is_set():
            try:
                conn, _ = sock.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            with conn:
                conn.settimeout(2)
                first = b""
                with contextlib.suppress(OSError):
                    first = conn.recv(1024).split(b"\r\n", 1)[0]
                with self.lock:
                    self.hits.append(f"{sock.getsockname()[:2]} {first[:120]!r}")
                with contextlib.suppress(OSError):
                    conn.sendall(b"HTTP/1.0 200 OK\r\nContent-Length: 6\r\n\r\ncanary")

    def close(self) -> None:
        self.stop.set()
        for sock in self.sockets:
            sock.close()


# The checks ---------------------------------------------------------------------------------------


DB_STATE = """
import json, re
from django.db.models import Count
from leadpost.intake.models import LeadPostUrl, PostLog
from leadpost.records.models import Attachment, Record
url = LeadPostUrl.objects.get(label="fuzz")
disabled = LeadPostUrl.objects.get(label="disabled")
ssns = set(open(SSN_FILE).read().split())
hits = {}
for row in PostLog.objects.filter(account_id=url.account_id).values_list(
        "id", "params", "warnings", "errors").iterator(chunk_size=200):
    text = json.dumps(row[1:], ensure_ascii=False)
    for pattern in (r"(?<![0-9])[0-9]{3}-[0-9]{2}-[0-9]{4}(?![0-9])", r"(?<![0-9])[0-9]{9}(?![0-9])"):
        for found in re.findall(pattern, text):
            if found in ssns:
                hits[found] = row[0]
result = {
    "records": list(Record.objects.filter(account_id=url.account_id).values_list(
        "id", "external_id", "lead_post_url_id")),
    "post_log": list(PostLog.objects.filter(account_id=url.account_id).values_list(
        "id", "lead_post_url_id", "status_code", "result", "record_id", "dry_run")),
    "url_id": url.pk,
    "disabled_id": disabled.pk,
    "attachments": list(Attachment.objects.filter(note__record__account_id=url.account_id)
        .exclude(source_url="").values_list("state", "error", "source_url")),
    "post_log_ssns": hits,
}
"""

PENDING = """
from leadpost.records.models import Attachment
result = Attachment.objects.filter(state="pending").exclude(source_url="").count()
"""

SETUP = """
from leadpost.intake.models import LeadPostUrl
from leadpost.records.models import CustomField
url = LeadPostUrl.objects.get(label="disabled")
LeadPostUrl.objects.filter(pk=url.pk).update(enabled=False)
for entity in ("individual", "sales_record"):
    for name, kind, options in (
        ("Policy Type", "dropdown", ["Term Life", "Whole Life"]),
        ("Coverage Amount", "currency", []),
        ("Notes", "textarea", []),
        ("Policy Date", "date", []),
        ("Interests", "checkbox_list", ["Auto", "Home"]),
    ):
        CustomField.objects.get_or_create(account_id=url.account_id, entity_type=entity,
                                          name=name, defaults={"field_type": kind, "options": options})
result = True
"""


@dataclass
class Check:
    name: str
    ok: bool
    detail: str


def read_back(port: int, api_token: str, ids: list[int], concurrency: int) -> dict[int, Answer]:
    def one(record_id: int) -> tuple[int, Answer]:
        request = build(
            "GET",
            f"/api/v1/records/{record_id}",
            [("Authorization", f"Bearer {api_token}"), ("Connection", "close")],
        )
        return record_id, exchange(port, request, timeout=60)

    with ThreadPoolExecutor(concurrency) as pool:
        return dict(pool.map(one, ids))


def scan_log(
    text: str, secrets_: dict[str, str], ssns: dict[str, str]
) -> tuple[dict[str, int], dict[str, int]]:
    """Token leaks (by which token, the count of lines) and SSN leaks (by where it was sent)."""
    token_hits: Counter[str] = Counter()
    for line in text.splitlines():
        for label, token in secrets_.items():
            if any(token[j : j + 8] in line for j in range(len(token) - 7)):
                token_hits[label] += 1
    ssn_hits: Counter[str] = Counter()
    digits = {ssn.replace("-", ""): where for ssn, where in ssns.items()}
    for found in SSN_DASHED.findall(text):
        if found in ssns:
            ssn_hits[ssns[found]] += 1
    for found in SSN_DIGITS.findall(text):
        if found in digits:
            ssn_hits[digits[found]] += 1
    return dict(token_hits), dict(ssn_hits)


def exceptions_in(text: str) -> Counter[str]:
    """The last line of each traceback (the exception) and other ERROR lines, counted."""
    found: Counter[str] = Counter()
    lines = text.splitlines()
    for j, line in enumerate(lines):
        if line.startswith("Traceback"):
            k = j + 1
            while k < len(lines) and (lines[k].startswith((" ", "\t")) or not lines[k].strip()):
                k += 1
            if k < len(lines):
                found[lines[k][:160]] += 1
    return found


def redact(text: str, tokens: Iterable[str]) -> str:
    """`text` for our own output: tokens cut to their prefix, control characters escaped."""
    for token in tokens:
        text = text.replace(token, token[:6] + "…")
    return "".join(ch if ch.isprintable() else repr(ch)[1:-1] for ch in text)


# Main -----------------------------------------------------------------------------------------


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0],
        epilog="Kinds (weight %): " + ", ".join(f"{n} {w:g}" for n, _, w in KINDS),
    )
    parser.add_argument("-n", type=int, default=20_000, help="posts to send (default 20,000)")
    parser.add_argument("--seed", type=int, help="the generator's seed (default: a random one)")
    parser.add_argument("--concurrency", type=int, default=8, help="client threads (8)")
    parser.add_argument("--timeout", type=float, default=30, help="seconds per request (30)")
    parser.add_argument("--kinds", help="only these kinds, comma-separated (default: the mix)")
    parser.add_argument(
        "--no-proxy-headers",
        action="store_true",
        help="run without LEADPOST_BEHIND_PROXY (X-Forwarded-* then ignored)",
    )
    parser.add_argument(
        "--root", type=Path, default=ROOT, help="the source tree to serve (default: this one)"
    )
    parser.add_argument(
        "--head",
        action="store_true",
        help="serve the committed code: a snapshot of HEAD (git archive) with this bench/ in it",
    )
    parser.add_argument(
        "--commit", metavar="REV", help="like --head, with another commit (to compare before/after)"
    )
    parser.add_argument("--bench-database", default="leadpost_bench_fuzz")
    parser.add_argument("--keep", action="store_true", help="keep the data folder and database")
    parser.add_argument("--json", type=Path, help="also write every outcome to this file")
    parser.add_argument(
        "--by-label", action="store_true", help="also print the answers per kind and variant"
    )
    args = parser.parse_args()
    if args.kinds:
        wanted = {k.strip() for k in args.kinds.split(",")}
        unknown = wanted - {n for n, _, _ in KINDS}
        if unknown:
            parser.error(f"unknown kinds: {', '.join(sorted(unknown))}")
        KINDS[:] = [k for k in KINDS if k[0] in wanted]
    with contextlib.ExitStack() as stack:
        if args.head or args.commit:
            args.root = stack.enter_context(snapshot_of_head(args.commit or "HEAD"))
        return fuzz(args)


def fuzz(args: argparse.Namespace) -> int:
    seed = args.seed if args.seed is not None else random.SystemRandom().randrange(1, 10**9)
    extra_env = {} if args.no_proxy_headers else {"LEADPOST_BEHIND_PROXY": "1"}
    service = Service(
        database_url=os.environ.get("DATABASE_URL") or None,
        bench_database=args.bench_database,
        extra_env=extra_env,
        keep=args.keep,
        root=args.root,
    )
    canary = Canary()
    work = Path(tempfile.mkdtemp(prefix="leadpost-fuzz-"))
    try:
        tokens = service.prepare(["fuzz", "disabled"])
        service.query(SETUP)
        api_token = service.issue_api_token()
        ctx = Context(seed, args.n, tokens["fuzz"], tokens["disabled"], canary.hosts)
        print(f"Machine: {machine()}")
        print(f"Tree: {tree_state(args.root)}")
        print(
            f"Fuzz: -n {args.n} --seed {seed}, {args.concurrency} client threads, "
            f"{args.timeout:g} s per request; {service.database}; "
            f"{'behind-proxy mode' if extra_env else 'no proxy headers'}; canary on "
            f"{', '.join(canary.hosts)}",
            flush=True,
        )
        service.start()
        for line in dict.fromkeys(service.process_tree()):
            print(f"  ran: {line}")
        outcomes: list[Outcome] = []
        sent: dict[int, Case] = {}
        started = time.monotonic()

        def one(i: int) -> tuple[Case, Outcome]:
            case = make_case(ctx, i)
            outcome = run_case(service.port, case, args.timeout)
            case.request = b""  # the bytes are not needed any more
            return case, outcome

        pool = ThreadPoolExecutor(args.concurrency)
        futures = [pool.submit(one, i) for i in range(args.n)]
        try:
            for done, future in enumerate(as_completed(futures), start=1):
                case, outcome = future.result()
                sent[case.i] = case
                outcomes.append(outcome)
                if done % 2000 == 0 or done == args.n:
                    fives = sum(1 for o in outcomes if o.status and o.status >= 500)
                    print(
                        f"  {done:>6} sent, {time.monotonic() - started:6.1f} s, 5xx so far {fives}",
                        flush=True,
                    )
        finally:
            # On Ctrl-C, the posts not yet sent are dropped rather than sent before stopping.
            pool.shutdown(wait=True, cancel_futures=True)
        elapsed = time.monotonic() - started
        outcomes.sort(key=lambda o: o.i)
        print(f"  {args.n} requests in {elapsed:.1f} s ({args.n / elapsed:.0f}/s)")

        # Downloads: the background worker refuses every canary URL; wait for it to finish.
        deadline = time.monotonic() + 120
        pending = service.query(PENDING)
        while pending and time.monotonic() < deadline:
            time.sleep(2)
            pending = service.query(PENDING)
        time.sleep(1)

        by_record: dict[int, list[Outcome]] = defaultdict(list)
        for o in outcomes:
            if o.record_id is not None and o.result in ("created", "duplicate"):
                by_record[o.record_id].append(o)
        api = read_back(service.port, api_token, sorted(by_record), args.concurrency)
        service.stop()

        ssn_file = work / "ssns.txt"
        all_ssns: dict[str, str] = {}
        for case in sent.values():
            for ssn, where in case.ssns:
                all_ssns[ssn] = where
        ssn_file.write_text("\n".join(f for ssn in all_ssns for f in ssn_forms(ssn)) + "\n")
        db = service.query(f"SSN_FILE = {str(ssn_file)!r}\n" + DB_STATE)
        log_text = (service.data_dir / "server.log").read_bytes().decode("utf-8", "replace")
        ok = report(args, ctx, sent, outcomes, by_record, api, db, log_text, canary, all_ssns)
        if args.json:
            args.json.write_text(json.dumps([o.__dict__ for o in outcomes]))
        return 0 if ok else 1
    finally:
        canary.close()
        service.cleanup()
        shutil.rmtree(work, ignore_errors=True)


def outcome_key(o: Outcome) -> str:
    if o.status is None:
        return f"no answer ({o.error})"
    return f"{o.status} {o.result or ('(not JSON)' if o.json_ok is False else '-')}"


def report(
    args: argparse.Namespace,
    ctx: Context,
    sent: dict[int, Case],
    outcomes: list[Outcome],
    by_record: dict[int, list[Outcome]],
    api: dict[int, Answer],
    db: dict[str, Any],
    log_text: str,
    canary: Canary,
    all_ssns: dict[str, str],
) -> bool:
    tokens = {"fuzz URL": ctx.token, "disabled URL": ctx.disabled}
    print("\nEvery status and result seen:")
    overall = Counter(outcome_key(o) for o in outcomes)
    for key, count in sorted(overall.items(), key=lambda kv: (-kv[1], kv[0])):
        print(f"  {count:>6}  {key}")
    print("\nPer kind:")
    per_kind: dict[str, Counter[str]] = defaultdict(Counter)
    for o in outcomes:
        per_kind[o.kind][outcome_key(o)] += 1
    seconds: dict[str, list[float]] = defaultdict(list)
    for o in outcomes:
        seconds[o.kind].append(o.seconds)
    print(f"  {'kind':<15} {'posts':>5} {'p50 ms':>7} {'max ms':>7}  answers")
    for kind, counts in sorted(per_kind.items()):
        total = sum(counts.values())
        times = sorted(seconds[kind])
        shown = ", ".join(f"{k} x{n}" for k, n in sorted(counts.items(), key=lambda kv: -kv[1]))
        print(
            f"  {kind:<15} {total:>5} {1000 * times[len(times) // 2]:>7.0f} "
            f"{1000 * times[-1]:>7.0f}  {shown}"
        )

    if args.by_label:
        print("\nPer kind and variant:")
        per_label: dict[str, Counter[str]] = defaultdict(Counter)
        for o in outcomes:
            per_label[f"{o.kind}/{redact(o.label, tokens.values())[:70]}"][outcome_key(o)] += 1
        for label, counts in sorted(per_label.items()):
            shown = ", ".join(f"{k} x{n}" for k, n in counts.most_common())
            print(f"  {label:<60} {shown}")

    checks: list[Check] = []

    def check(name: str, ok: bool, detail: str = "") -> None:
        checks.append(Check(name, ok, detail))

    def labels(items: Iterable[Outcome], limit: int = 12) -> str:
        counted = Counter(f"{o.kind}/{o.label}" for o in items)
        return "; ".join(
            f"{redact(k, tokens.values())[:90]} x{n}" for k, n in counted.most_common(limit)
        )

    fives = [o for o in outcomes if o.status is not None and o.status >= 500]
    check("no 5xx (SPEC §3)", not fives, f"{len(fives)} 5xx: {labels(fives)}" if fives else "")
    hangs = [o for o in outcomes if o.error == "timeout"]
    check(
        f"no request left unanswered past {args.timeout:g} s",
        not hangs,
        f"{len(hangs)}: {labels(hangs)}" if hangs else "",
    )

    # Records.
    records = {r[0]: r for r in db["records"]}
    missing = [rid for rid in by_record if rid not in records]
    unreadable = []
    api_ssn: Counter[str] = Counter()
    for rid, answer in api.items():
        payload: Any = None
        with contextlib.suppress(ValueError):
            payload = json.loads(answer.body)
        if answer.status != 200 or not isinstance(payload, dict) or payload.get("id") != rid:
            unreadable.append(rid)
            continue
        text = answer.body.decode("utf-8", "replace")
        for o in by_record[rid]:
            for ssn, where in sent[o.i].ssns:
                if any(f in text for f in ssn_forms(ssn)):
                    api_ssn[where] += 1
    check(
        "every created/duplicate recordId exists and reads back through the API (§3, §11)",
        not missing and not unreadable,
        f"{len(missing)} not in the database, {len(unreadable)} not readable "
        f"({[(r, api[r].status) for r in unreadable[:5]]})"
        if missing or unreadable
        else f"{len(by_record)} records read back",
    )
    created: dict[int, list[Outcome]] = defaultdict(list)
    for o in outcomes:
        if o.result == "created" and o.record_id is not None:
            created[o.record_id].append(o)
    twice = {rid: len(v) for rid, v in created.items() if len(v) > 1}
    lost = sorted(set(records) - set(created))
    ext_to_case = {c.external_id: c for c in sent.values() if c.external_id}
    lost_detail = []
    for rid in lost[:10]:
        ext = records[rid][1]
        case = ext_to_case.get(ext)
        got = [outcome_key(o) for o in outcomes if case and o.i == case.i]
        lost_detail.append(
            f"record {rid} externalID {ext!r:.60}: "
            + (f"case {case.i} {case.kind}/{case.label} got {got}" if case else "no case of ours")
        )
    check(
        "records = distinct created answers; no record without its created answer (§3)",
        not lost and not twice and len(records) == len(created),
        f"{len(records)} records, {len(created)} distinct created answers, "
        f"{len(lost)} records without a created answer (lost answers)"
        + (f", {len(twice)} recordIds answered created twice" if twice else "")
        + ("".join(f"\n        {d}" for d in lost_detail)),
    )
    wrong_url = [r for r in records.values() if r[2] != db["url_id"]]
    if wrong_url:
        check("records only on the fuzz URL", False, f"{len(wrong_url)} on another URL")

    # The post log.
    logs = {row[0]: row for row in db["post_log"]}
    identified = [o for o in outcomes if o.post_id is not None]
    known = [o for o in outcomes if o.to_known and o.status is not None and o.status < 500]
    without_id = [o for o in known if o.header_id is None]
    header_differs = [o for o in identified if o.header_id != o.post_id]
    mismatched = [o for o in identified if o.post_id not in logs or logs[o.post_id][2] != o.status]
    answered_by_status = Counter(o.status or 0 for o in identified)
    seen_ids = {o.post_id for o in identified}
    logged_by_status = Counter(row[2] for row in logs.values() if row[1] == db["url_id"])
    unseen = Counter(f"{row[2]} {row[3]}" for pid, row in logs.items() if pid not in seen_ids)
    table = ", ".join(
        f"{s}: {answered_by_status.get(s, 0)} answered with a post id / "
        f"{logged_by_status.get(s, 0)} logged"
        for s in sorted(set(answered_by_status) | set(logged_by_status))
    )
    check(
        "every post to the known URL answered has X-Lead-Post-Id and its post-log row, same status "
        "(§3, §9)",
        not without_id and not mismatched and not header_differs,
        f"{table}; {len(without_id)} answers to posts without X-Lead-Post-Id "
        f"({labels(without_id)}), {len(header_differs)} whose header differs from the body's "
        f"postId ({labels(header_differs)}), {len(mismatched)} whose row is missing or has "
        f"another status; rows whose answer the fuzz did not see: {dict(unseen) or 'none'} "
        "(posts cut short or left before the answer)",
    )
    disabled_rows = [row for row in logs.values() if row[1] == db["disabled_id"]]
    check(
        "nothing logged against a disabled URL (§3)",
        not disabled_rows,
        f"{len(disabled_rows)} rows" if disabled_rows else "",
    )

    # JSON everywhere under /leadpost/.
    not_json = [o for o in outcomes if o.json_ok is False]
    check(
        "every answer under /leadpost/ is JSON (§2)",
        not not_json,
        f"{len(not_json)}: {labels(not_json)}; e.g. {not_json[0].status} {not_json[0].snippet[:80]!r}"
        if not_json
        else "",
    )
    bad_405 = [o for o in outcomes if o.status == 405 and (o.allow or "").upper() != "POST"]
    methods = [o for o in outcomes if o.kind == "method" and o.status is not None]
    check(
        "other methods get 405 with Allow: POST (§2)",
        not bad_405 and all(o.status == 405 for o in methods),
        f"{Counter(outcome_key(o) for o in methods)}; {len(bad_405)} 405s without Allow: POST",
    )

    # What must not have made a record.
    ext_records = {r[1] for r in records.values()}
    made = [
        c
        for c in sent.values()
        if c.no_record and c.external_id is not None and c.external_id in ext_records
    ]
    check(
        "cut-short bodies, dry runs, refused and misdirected posts made no record (§2, §3)",
        not made,
        f"{len(made)}: " + "; ".join(f"{c.kind}/{c.label}" for c in made[:10]) if made else "",
    )
    must = [o for o in outcomes if sent[o.i].must_store]
    unstored = [o for o in must if o.result not in ("created", "duplicate")]
    check(
        "chunked bodies are read whole, never taken for an empty form (§2)",
        not unstored,
        f"{len(unstored)} of {len(must)}: {Counter(outcome_key(o) for o in unstored)}"
        if unstored
        else f"{len(must)} stored",
    )

    # Attachment URLs.
    states = Counter(
        f"{state}: {redact(error, tokens.values())[:70]}" for state, error, _ in db["attachments"]
    )
    stored = [a for a in db["attachments"] if a[0] == "stored"]
    check(
        "attachment URLs to this machine were refused, never fetched (§8)",
        not canary.hits and not stored,
        f"canary connections: {len(canary.hits)} {canary.hits[:5]}; URL attachments: "
        + "; ".join(f"{k} x{n}" for k, n in states.most_common(8)),
    )

    # Secrets in what the server wrote.
    token_hits, ssn_hits = scan_log(log_text, tokens, all_ssns)
    shapes: Counter[str] = Counter()
    for line in log_text.splitlines():
        if any(t[8:20] in line for t in tokens.values()):
            shape = line
            for label, token in tokens.items():
                shape = shape.replace(token, f"<{label} token>").replace(token[:6], "<prefix>")
            shape = re.sub(r"^[0-9-]+ [0-9:,]+ ", "", shape)  # the time stamp
            shape = re.sub(r"\b[0-9]+(\.[0-9]+)?(ms)?\b", "N", shape)  # sizes, times
            shapes[redact(shape, [])[:150]] += 1
    check(
        "no server log line holds a URL token beyond its first 6 characters (§9)",
        not token_hits,
        f"lines: {token_hits}; the lines, tokens replaced: "
        + "".join(f"\n          {n:>4} x {shape}" for shape, n in shapes.most_common(8))
        if token_hits
        else f"{len(log_text.splitlines())} lines scanned",
    )
    check(
        "no server log line holds an SSN the fuzz sent (§9)",
        not ssn_hits,
        f"by where it was sent: {ssn_hits}" if ssn_hits else "",
    )
    post_log_ssns = db["post_log_ssns"]
    digits = {ssn.replace("-", ""): where for ssn, where in all_ssns.items()}
    pl_where = Counter(all_ssns.get(s) or digits.get(s, "?") for s in post_log_ssns)
    check(
        "the post log holds no SSN in clear (§9)",
        not post_log_ssns,
        f"{len(post_log_ssns)} SSNs, by where they were sent: {dict(pl_where)}"
        if post_log_ssns
        else "",
    )
    answer_ssn = Counter(w for o in outcomes for w in o.ssn_in_answer)
    check(
        "no answer (warning messages) holds an SSN in clear (§9)",
        not answer_ssn,
        f"by where it was sent: {dict(answer_ssn)}" if answer_ssn else "",
    )
    check(
        "the read API shows no SSN in clear (§9: masked wherever it appears)",
        not api_ssn,
        f"by where it was sent: {dict(api_ssn)}" if api_ssn else "",
    )

    exceptions = exceptions_in(log_text)
    if exceptions:
        print("\nExceptions in the server's output (the last line of each traceback):")
        for line, count in exceptions.most_common(15):
            print(f"  {count:>5}  {redact(line, tokens.values())}")
    print(f"\n5xx: {len(fives)} of {len(outcomes)}")
    for status_kind, count in Counter(f"{o.status} {o.kind}/{o.label}" for o in fives).most_common(
        20
    ):
        print(f"  {count:>5}  {redact(status_kind, tokens.values())[:120]}")

    print("\nChecks:")
    for c in checks:
        print(
            f"  [{'OK' if c.ok else 'FAILED'}] {c.name}"
            + (f"\n        {c.detail}" if c.detail else "")
        )
    failed = [c for c in checks if not c.ok]
    print(
        f"\nChecks held: {len(checks) - len(failed)} of {len(checks)}"
        + (f"; to repeat this run: --seed {ctx.seed} -n {args.n}" if failed else "")
    )
    return not failed


if __name__ == "__main__":
    sys.exit(main())
