"""Decoding urlencoded bodies (SPEC §2): what a vendor's bytes become, and what they are told."""

from __future__ import annotations

import base64
import hashlib
from urllib.parse import quote, urlencode

import pytest

from leadpost.intake.form import MAX_PAIRS, decode_form
from leadpost.lib.problems import Problem


def test_pairs_are_split_on_ampersand_and_plus_is_a_space() -> None:
    form = decode_form(b"lastName=Doe&firstName=John+Paul&city=Iowa%20City", None)
    assert form.params == {"lastName": "Doe", "firstName": "John Paul", "city": "Iowa City"}
    assert form.warnings == []


def test_escaped_plus_and_structural_characters_are_data() -> None:
    form = decode_form(b"note=1%2B1%3D2+%26+more&a%2Bb=c", None)
    assert form.params == {"note": "1+1=2 & more", "a+b": "c"}


def test_semicolon_does_not_separate_pairs() -> None:
    form = decode_form(b"title=Dr;Mr&lastName=Doe", None)
    assert form.params == {"title": "Dr;Mr", "lastName": "Doe"}


def test_a_pair_without_equals_is_a_name_with_an_empty_value() -> None:
    form = decode_form(b"firstName&lastName=Doe", None)
    assert form.params == {"firstName": "", "lastName": "Doe"}


def test_only_the_first_equals_separates_name_and_value() -> None:
    assert decode_form(b"b=a=b==", None).params == {"b": "a=b=="}


def test_empty_names_and_empty_pairs_are_dropped_silently() -> None:
    form = decode_form(b"=orphan&&lastName=Doe&&=&", None)
    assert form.params == {"lastName": "Doe"}
    assert form.warnings == []


def test_empty_body() -> None:
    form = decode_form(b"", None)
    assert form.params == {}
    assert form.warnings == []


def test_utf8_is_the_default_charset() -> None:
    form = decode_form("city=Añasco&name=José".encode(), None)
    assert form.params == {"city": "Añasco", "name": "José"}
    assert decode_form(b"city=A%C3%B1asco", None).params == {"city": "Añasco"}


def test_a_declared_charset_is_honoured() -> None:
    form = decode_form(b"city=A%F1asco&name=Jos\xe9", "ISO-8859-1")
    assert form.params == {"city": "Añasco", "name": "José"}
    assert form.warnings == []
    assert decode_form(b"x=%80", "windows-1252").params == {"x": "€"}


@pytest.mark.parametrize("charset", ["klingon", "utf-16", "utf-32", "cp037", "base64", "rot13"])
def test_a_charset_that_cannot_carry_a_form_raises_lookup_error(charset: str) -> None:
    # The view answers 415 (SPEC §2).
    with pytest.raises(LookupError):
        decode_form(b"lastName=Doe", charset)


def test_invalid_utf8_is_replaced_and_warned_once_naming_the_parameter() -> None:
    form = decode_form(b"lastName=Do%E9&firstName=J\xff\xfen", None)
    assert form.params == {"lastName": "Do\ufffd", "firstName": "J\ufffd\ufffdn"}
    assert form.warnings == [
        Problem(
            None,
            "invalid_encoding",
            '2 parameters ("lastName", "firstName"): bytes that are not valid utf-8 were '
            "replaced by U+FFFD",
        )
    ]


def test_invalid_bytes_in_one_parameter_name_the_parameter() -> None:
    form = decode_form(b"lastName=Doe&city=Z%FCrich", None)
    assert form.params["city"] == "Z\ufffdrich"
    [warning] = form.warnings
    assert (warning.field, warning.code) == ("city", "invalid_encoding")


def test_a_replacement_character_sent_on_purpose_is_not_warned() -> None:
    form = decode_form("note=\ufffd".encode(), None)
    assert form.params == {"note": "\ufffd"}
    assert form.warnings == []


@pytest.mark.parametrize(
    ("body", "value"),
    [
        (b"discount=100%zz", "100%zz"),
        (b"discount=100%", "100%"),
        (b"discount=100%2", "100%2"),
        (b"discount=50%+off", "50% off"),
        (b"discount=%%41", "%A"),
    ],
)
def test_invalid_percent_escapes_are_kept_as_written(body: bytes, value: str) -> None:
    form = decode_form(body, None)
    assert form.params == {"discount": value}
    [warning] = form.warnings
    assert (warning.field, warning.code) == ("discount", "invalid_percent_encoding")
    assert "%25" in warning.message


def test_invalid_percent_escapes_in_many_parameters_are_one_warning() -> None:
    form = decode_form(b"a=%&b=%x&c=%zz&d=ok", None)
    assert [(w.field, w.code) for w in form.warnings] == [(None, "invalid_percent_encoding")]
    assert '"a", "b", "c"' in form.warnings[0].message


def test_a_repeated_name_keeps_the_last_value_with_one_warning() -> None:
    form = decode_form(b"lastName=Doe&status=New&status=Hot&status=Sold&lastName=Roe", None)
    assert form.params == {"lastName": "Roe", "status": "Sold"}
    assert form.warnings == [
        Problem(
            "status",
            "duplicate_parameter",
            'parameter "status" was given 3 times; the last value is used',
        ),
        Problem(
            "lastName",
            "duplicate_parameter",
            'parameter "lastName" was given 2 times; the last value is used',
        ),
    ]


def test_an_empty_last_value_wins_too() -> None:
    assert decode_form(b"status=Hot&status=", None).params == {"status": ""}


def test_thousands_of_repeated_names_give_twenty_warnings_and_a_count() -> None:
    body = "&".join(f"p{i}=1&p{i}=2" for i in range(1000)).encode()
    form = decode_form(body, None)
    assert len(form.params) == 1000
    assert [w.field for w in form.warnings[:20]] == [f"p{i}" for i in range(20)]
    assert form.warnings[20] == Problem(
        None,
        "duplicate_parameter",
        "980 more parameters given more than once (names not listed); the last value of each "
        "is used",
    )
    assert len(form.warnings) == 21


def test_ten_thousand_parameters() -> None:
    params = {f"custom_Field {i}": f"value {i} & more" for i in range(10_000)}
    form = decode_form(urlencode(params).encode(), None)
    assert form.params == params
    assert form.warnings == []


def test_a_one_megabyte_value() -> None:
    note = "Called twice, no answer; try after 5pm. Ünïcode & 100% sure? " * 17_000
    assert len(note) > 1_000_000
    body = urlencode({"lastName": "Doe", "attachment_note_1_body_text": note}).encode()
    form = decode_form(body, None)
    assert form.params["attachment_note_1_body_text"] == note
    assert form.warnings == []


def test_a_large_base64_file_survives_percent_decoding() -> None:
    content = hashlib.sha256(b"seed").digest() * 200_000  # 6.4 MB
    encoded = base64.b64encode(content).decode()
    body = f"lastName=Doe&attachment_note_1_file_body_1={quote(encoded, safe='')}".encode()
    form = decode_form(body, None)
    assert base64.b64decode(form.params["attachment_note_1_file_body_1"]) == content


def test_reading_stops_after_max_pairs_with_a_warning() -> None:
    body = b"firstName=John&lastName=Doe&" + b"x&" * (MAX_PAIRS + 10)
    form = decode_form(body, None)
    assert form.params == {"firstName": "John", "lastName": "Doe", "x": ""}
    assert form.warnings[-1].code == "too_many_parameters"
    assert form.warnings[-1].field is None
    assert "24 bytes" in form.warnings[-1].message  # 12 unread "x&" pairs


def test_names_are_quoted_short_in_warnings() -> None:
    long_name = "n" * 5000
    form = decode_form(f"{long_name}=1&{long_name}=2".encode(), None)
    [warning] = form.warnings
    assert warning.field == long_name
    assert len(warning.message) < 200
    assert "5,000 characters" in warning.message


def test_a_repeated_name_with_bad_bytes_is_named_once() -> None:
    form = decode_form(b"city=%FF&city=%FE", None)
    assert form.params == {"city": "\ufffd"}
    assert [(w.field, w.code) for w in form.warnings] == [
        ("city", "invalid_encoding"),
        ("city", "duplicate_parameter"),
    ]


def test_problems_of_an_empty_name_are_dropped_with_it() -> None:
    form = decode_form(b"=%FF%zz&lastName=Doe", None)
    assert form.params == {"lastName": "Doe"}
    assert form.warnings == []


def test_every_byte_value_round_trips_through_percent_escapes() -> None:
    # Every byte but the control characters, which SPEC §2 replaces (tested below).
    printable = bytes(b for b in range(256) if b in b"\t\n\r" or not (b < 32 or 127 <= b < 160))
    body = b"name%5C=" + quote(printable, safe="").encode() + b"&raw=\\x41\\%41%5Cx41"
    form = decode_form(body, "latin-1")
    assert form.params == {"name\\": printable.decode("latin-1"), "raw": "\\x41\\A\\x41"}
    assert form.warnings == []


def test_control_characters_are_replaced_and_warned_in_names_and_values() -> None:
    every_byte = bytes(range(256))
    form = decode_form(b"v=" + quote(every_byte, safe="").encode() + b"&n%00x=1", "latin-1")
    kept = "".join(
        ch if ch in "\t\n\r" or not (ord(ch) < 32 or 127 <= ord(ch) < 160) else "\ufffd"
        for ch in every_byte.decode("latin-1")
    )
    assert form.params == {"v": kept, "n\ufffdx": "1"}
    assert [(w.field, w.code) for w in form.warnings] == [(None, "control_character")]
    assert '"v"' in form.warnings[0].message


def test_unescaped_non_ascii_bytes_beside_escapes_are_kept() -> None:
    form = decode_form("city=Añasco%20PR".encode(), None)
    assert form.params == {"city": "Añasco PR"}


def test_up_to_ten_thousand_broken_escapes_are_each_kept_literally() -> None:
    form = decode_form(b"a=%41" + b"%zz" * 10_000, None)
    assert form.params == {"a": "A" + "%zz" * 10_000}
    assert [(w.field, w.code) for w in form.warnings] == [("a", "invalid_percent_encoding")]


def test_a_value_of_mostly_broken_escapes_is_kept_with_no_escape_decoded() -> None:
    form = decode_form(b"a=%41+" + b"%zz" * 10_001 + b"&b=%41", None)
    assert form.params == {"a": "%41 " + "%zz" * 10_001, "b": "A"}
    assert form.warnings == [
        Problem(
            "a",
            "invalid_percent_encoding",
            'parameter "a": over 10,000 % not followed by two hex digits; the value was kept '
            "with no % escape decoded",
        )
    ]
