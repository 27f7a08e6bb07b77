"""Notes and attachments in a post (SPEC §8), as parse_lead hands them to the action."""

from __future__ import annotations

import base64
import datetime as dt

import pytest

from leadpost.intake.lead import AccountConfig, ParsedLead
from leadpost.intake.notes_parse import decode_base64
from leadpost.intake.parse import parse_lead
from leadpost.lib.problems import Problem
from leadpost.records.inputs import ParsedFile, ParsedNote

CONFIG = AccountConfig(received_on=dt.date(2026, 3, 15))
PDF = b"%PDF-1.7\n\xff\xfe\x00binary\xfb\xff"  # "+" and "/" in its standard base64


def parse(params: dict[str, str]) -> ParsedLead:
    return parse_lead({"firstName": "John", "lastName": "Doe", **params}, "individual", CONFIG)


def note(n: int = 1, subject: str = "Call notes", body: str = "Wants a quote.") -> dict[str, str]:
    return {f"attachment_note_{n}_subject_text": subject, f"attachment_note_{n}_body_text": body}


def with_file(n: int = 1, m: int = 1, **parts: str) -> dict[str, str]:
    """Note n with files enabled and file m's name/body/url parameters."""
    params = note(n) | {f"attach_file_to_note_{n}": "1"}
    return params | {f"attachment_note_{n}_file_{kind}_{m}": v for kind, v in parts.items()}


def problems(lead: ParsedLead) -> list[tuple[str | None, str]]:
    return [(w.field, w.code) for w in lead.warnings]


# -- Notes ---------------------------------------------------------------------------------------


def test_a_note_needs_a_subject_and_a_body() -> None:
    lead = parse(note(1, " Call notes ", " Wants a quote.\n"))
    assert lead.notes == [ParsedNote(1, "Call notes", "Wants a quote.", pinned=False)]
    assert lead.warnings == []


@pytest.mark.parametrize("missing", ["subject_text", "body_text"])
def test_a_note_missing_its_subject_or_body_is_skipped_with_its_files(missing: str) -> None:
    params = with_file(2, 1, name="a.txt", body="aGk=")
    del params[f"attachment_note_2_{missing}"]
    lead = parse(params)
    assert lead.notes == []
    [warning] = lead.warnings
    assert (warning.field, warning.code) == (f"attachment_note_2_{missing}", "note_incomplete")
    assert "note 2 and its files were not stored" in warning.message


def test_a_note_missing_both_names_both() -> None:
    lead = parse({"attachment_note_1_pinned": "1"})
    assert lead.notes == []
    assert lead.warnings == [
        Problem(
            "attachment_note_1_subject_text",
            "note_incomplete",
            "note 1 needs both attachment_note_1_subject_text and attachment_note_1_body_text; "
            "attachment_note_1_subject_text and attachment_note_1_body_text missing or empty, "
            "so note 1 and its files were not stored",
        )
    ]


def test_a_template_of_empty_note_parameters_is_no_note_and_no_warning() -> None:
    lead = parse(
        note(1, "", " ")
        | {
            "attachment_note_1_pinned": "0",
            "attach_file_to_note_1": "0",
            "attachment_note_1_file_name_1": "",
            "attachment_note_1_file_body_1": "",
            "attachment_note_1_file_url_1": "",
        }
    )
    assert lead.notes == []
    assert lead.warnings == []


def test_notes_come_in_order_one_to_five_whatever_the_post_order() -> None:
    lead = parse(note(4, "four", "4") | note(2, "two", "2") | note(5, "five", "5"))
    assert [(n.number, n.subject) for n in lead.notes] == [(2, "two"), (4, "four"), (5, "five")]


def test_a_subject_of_65535_bytes_is_kept() -> None:
    subject = "é" * 32_767 + "x"  # 65,535 bytes of UTF-8
    lead = parse(note(1, subject=subject))
    assert lead.notes[0].subject == subject


def test_a_subject_over_65535_bytes_skips_the_note() -> None:
    lead = parse(note(1, subject="é" * 32_768))  # 65,536 bytes, 32,768 characters
    assert lead.notes == []
    assert lead.warnings == [
        Problem(
            "attachment_note_1_subject_text",
            "too_long",
            "attachment_note_1_subject_text is 65,536 bytes, over the limit of 65,535; note 1 "
            "and its files were not stored",
        )
    ]


def test_a_large_body_is_kept() -> None:
    body = "Line of history.\n" * 200_000  # 3.4 MB
    assert parse(note(1, body=body)).notes[0].body == body.strip()


@pytest.mark.parametrize(("sent", "pinned"), [("1", True), ("0", False), (" 1 ", True)])
def test_pinned_is_1_or_0(sent: str, pinned: bool) -> None:
    lead = parse(note(1) | {"attachment_note_1_pinned": sent})
    assert lead.notes[0].pinned is pinned
    assert lead.warnings == []


@pytest.mark.parametrize("sent", ["true", "yes", "2"])
def test_any_other_pinned_value_is_0_and_warned(sent: str) -> None:
    lead = parse(note(1) | {"attachment_note_1_pinned": sent})
    assert lead.notes[0].pinned is False
    assert lead.warnings == [
        Problem(
            "attachment_note_1_pinned",
            "invalid_choice",
            f'attachment_note_1_pinned "{sent}" is not 1 or 0; read as 0, not pinned',
        )
    ]


def test_several_pinned_notes_are_all_flagged_the_action_keeps_the_last() -> None:
    lead = parse(
        note(1) | note(3) | {"attachment_note_1_pinned": "1", "attachment_note_3_pinned": "1"}
    )
    assert [(n.number, n.pinned) for n in lead.notes] == [(1, True), (3, True)]


def test_notes_beyond_five_are_ignored_with_one_warning() -> None:
    lead = parse(note(1) | note(6) | note(12) | {"attach_file_to_note_7": "1"})
    assert [n.number for n in lead.notes] == [1]
    assert lead.warnings == [
        Problem(
            "attachment_note_6_subject_text",
            "too_many_notes",
            "only notes 1 to 5 are read; 5 parameters of further notes ignored: "
            '"attachment_note_6_subject_text", "attachment_note_6_body_text", '
            '"attachment_note_12_subject_text", "attachment_note_12_body_text", '
            '"attach_file_to_note_7"',
        )
    ]


@pytest.mark.parametrize("name", ["attachment_note_0_subject_text", "attachment_note_01_body_text"])
def test_note_numbers_zero_or_with_leading_zeros_are_unknown(name: str) -> None:
    lead = parse({name: "x"})
    assert problems(lead) == [(name, "unknown_parameter")]


# -- Files ---------------------------------------------------------------------------------------


def test_a_base64_file() -> None:
    lead = parse(with_file(name="quote.pdf", body=base64.b64encode(PDF).decode()))
    assert lead.notes[0].files == [ParsedFile("quote.pdf", content=PDF)]
    assert lead.warnings == []


@pytest.mark.parametrize(
    "encoded",
    [
        base64.urlsafe_b64encode(PDF).decode(),  # URL-safe alphabet
        base64.b64encode(PDF).decode().rstrip("="),  # padding left off
        base64.urlsafe_b64encode(PDF).decode().rstrip("="),
        "\n".join(base64.encodebytes(PDF).decode().split()),  # MIME line breaks
        " " + base64.b64encode(PDF).decode() + "\r\n",
    ],
)
def test_base64_in_either_alphabet_whitespace_and_padding_optional(encoded: str) -> None:
    lead = parse(with_file(name="quote.pdf", body=encoded))
    assert lead.notes[0].files == [ParsedFile("quote.pdf", content=PDF)]
    assert lead.warnings == []


@pytest.mark.parametrize(
    "encoded",
    [
        "not base64!",
        "aGVsbG8=d29ybGQ=",  # padding in the middle
        "a",  # a length no encoding produces
        "aGVsbG8*",
        "aGVsbG8é",
    ],
)
def test_invalid_base64_is_not_attached(encoded: str) -> None:
    lead = parse(with_file(name="quote.pdf", body=encoded))
    assert lead.notes[0].files == []
    [warning] = lead.warnings
    assert (warning.field, warning.code) == ("attachment_note_1_file_body_1", "invalid_base64")
    assert warning.message == (
        f"attachment_note_1_file_body_1 ({len(encoded)} character{'s' * (len(encoded) > 1)}) is "
        "not valid base64 (standard or URL-safe alphabet); file not attached"
    )  # its size, never the body itself


def test_base64_sent_without_percent_encoding_has_its_plus_signs_restored() -> None:
    # The vendor forgot to encode "+" as %2B, so the form decoding turned each into a space.
    mangled = base64.b64encode(PDF).decode().replace("+", " ")
    assert " " in mangled
    lead = parse(with_file(name="quote.pdf", body=mangled))
    assert lead.notes[0].files == [ParsedFile("quote.pdf", content=PDF)]
    assert problems(lead) == [("attachment_note_1_file_body_1", "unencoded_plus")]


@pytest.mark.parametrize(
    "url",
    [
        "https://files.example.com/quote.pdf",
        "http://files.example.com/a?b=c",
        "HTTPS://files.example.com/q.pdf",
        "https://files.example.com:8443/q.pdf",
    ],
)
def test_a_file_by_url(url: str) -> None:
    lead = parse(with_file(name="quote.pdf", url=url))
    assert lead.notes[0].files == [ParsedFile("quote.pdf", url=url)]
    assert lead.warnings == []


@pytest.mark.parametrize(
    "url",
    [
        "ftp://files.example.com/quote.pdf",
        "files.example.com/quote.pdf",
        "//files.example.com/quote.pdf",
        "https://",
        "https:///path",
        "https://files.example.com:99999/q.pdf",
        "https://files.example.com/a b.pdf",
        "javascript:alert(1)",
    ],
)
def test_a_url_not_http_or_https_is_ignored(url: str) -> None:
    lead = parse(with_file(name="quote.pdf", url=url))
    assert lead.notes[0].files == []
    [warning] = lead.warnings
    assert (warning.field, warning.code) == ("attachment_note_1_file_url_1", "invalid_url")


def test_a_file_with_body_and_url_uses_the_body() -> None:
    lead = parse(
        with_file(name="q.pdf", body=base64.b64encode(PDF).decode(), url="https://x.example/q")
    )
    assert lead.notes[0].files == [ParsedFile("q.pdf", content=PDF)]
    assert problems(lead) == [("attachment_note_1_file_url_1", "both_body_and_url")]


@pytest.mark.parametrize("part", [{"body": "aGk="}, {"url": "https://x.example/q"}])
def test_a_file_without_a_name_is_not_attached(part: dict[str, str]) -> None:
    lead = parse(with_file(**part))
    assert lead.notes[0].files == []
    assert lead.warnings == [
        Problem(
            "attachment_note_1_file_name_1",
            "file_name_missing",
            "attachment_note_1_file_name_1 is required with attachment_note_1_file_body_1 or "
            "attachment_note_1_file_url_1; file not attached",
        )
    ]


def test_a_file_name_without_body_or_url_is_not_attached() -> None:
    lead = parse(with_file(name="quote.pdf"))
    assert lead.notes[0].files == []
    assert problems(lead) == [("attachment_note_1_file_name_1", "file_content_missing")]


def test_file_names_are_sanitised() -> None:
    lead = parse(with_file(name="../Quote: 2026/03?.pdf", body="aGk="))
    assert lead.notes[0].files[0].name == "_Quote_ 2026_03_.pdf"


@pytest.mark.parametrize("flag", [None, "0", "yes"])
def test_files_are_ignored_unless_attach_file_to_note_is_1(flag: str | None) -> None:
    params = with_file(name="q.pdf", body="aGk=")
    if flag is None:
        del params["attach_file_to_note_1"]
    else:
        params["attach_file_to_note_1"] = flag
    lead = parse(params)
    assert lead.notes[0].files == []
    [warning] = lead.warnings
    assert (warning.field, warning.code) == ("attach_file_to_note_1", "files_not_enabled")
    sent = "was not sent" if flag is None else f'is "{flag}"'
    assert warning.message == (
        f"attach_file_to_note_1 {sent}, not 1, so the files given for note 1 were ignored"
    )


def test_files_enabled_but_none_given_is_fine() -> None:
    lead = parse(note(1) | {"attach_file_to_note_1": "1"})
    assert lead.notes[0].files == []
    assert lead.warnings == []


def test_files_beyond_five_are_ignored_with_one_warning_per_note() -> None:
    params = with_file(1, 1, name="1.txt", body="MQ==")
    params |= {"attachment_note_1_file_name_6": "6.txt", "attachment_note_1_file_body_6": "Ng=="}
    params |= {"attachment_note_1_file_url_60": "https://x.example/60"}
    lead = parse(params)
    assert [f.name for f in lead.notes[0].files] == ["1.txt"]
    assert lead.warnings == [
        Problem(
            "attachment_note_1_file_name_6",
            "too_many_files",
            "only files 1 to 5 of note 1 are read; ignored: "
            '"attachment_note_1_file_name_6", "attachment_note_1_file_body_6", '
            '"attachment_note_1_file_url_60"',
        )
    ]


def test_the_largest_post_five_notes_of_five_files() -> None:
    params: dict[str, str] = {}
    for n in range(1, 6):
        params |= note(n, f"subject {n}", f"body {n}") | {f"attach_file_to_note_{n}": "1"}
        for m in range(1, 6):
            params[f"attachment_note_{n}_file_name_{m}"] = f"n{n}f{m}.txt"
            if m % 2:
                params[f"attachment_note_{n}_file_body_{m}"] = base64.b64encode(b"%d" % m).decode()
            else:
                params[f"attachment_note_{n}_file_url_{m}"] = f"https://files.example/{n}/{m}"
    lead = parse(params)
    assert lead.warnings == []
    assert [n.number for n in lead.notes] == [1, 2, 3, 4, 5]
    assert [f.name for f in lead.notes[4].files] == [f"n5f{m}.txt" for m in range(1, 6)]
    assert lead.notes[2].files[0] == ParsedFile("n3f1.txt", content=b"1")
    assert lead.notes[2].files[1] == ParsedFile("n3f2.txt", url="https://files.example/3/2")


def test_files_are_attached_in_order_one_to_five() -> None:
    params = with_file(1, 3, name="three.txt", body="Mw==")
    params |= {"attachment_note_1_file_name_1": "one.txt", "attachment_note_1_file_body_1": "MQ=="}
    lead = parse(params)
    assert [f.name for f in lead.notes[0].files] == ["one.txt", "three.txt"]


# -- decode_base64 directly ------------------------------------------------------------------------


def test_decode_base64_empty_padding_only_is_empty_content() -> None:
    assert decode_base64("==") == b""


def test_decode_base64_is_strict_about_trailing_garbage() -> None:
    assert decode_base64("aGk=aGk") is None
