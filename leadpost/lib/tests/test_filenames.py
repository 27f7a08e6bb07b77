from __future__ import annotations

import pytest

from leadpost.lib.filenames import sanitise_file_name


@pytest.mark.parametrize(
    ("sent", "stored"),
    [
        ("quote.pdf", "quote.pdf"),
        ("résumé 2024.pdf", "résumé 2024.pdf"),
        ('a\\b/c:d*e?f"g<h>i|j.txt', "a_b_c_d_e_f_g_h_i_j.txt"),
        ("tab\there\nnew\x00line\x7f.txt", "tab_here_new_line_.txt"),
        (".hidden", "hidden"),
        ("...env", "env"),
        ("../../etc/passwd", "_.._etc_passwd"),
        (". spaced .txt", "spaced .txt"),
    ],
)
def test_invalid_characters_are_replaced_and_leading_dots_removed(sent: str, stored: str) -> None:
    assert sanitise_file_name(sent) == stored


@pytest.mark.parametrize("sent", ["", "...", " . ", "."])
def test_a_name_with_nothing_left_becomes_file(sent: str) -> None:
    assert sanitise_file_name(sent) == "file"


def test_a_long_name_is_shortened_to_255_bytes_keeping_its_extension() -> None:
    stored = sanitise_file_name("a" * 300 + ".pdf")
    assert stored == "a" * 251 + ".pdf"


def test_shortening_never_splits_a_multibyte_character() -> None:
    stored = sanitise_file_name("€" * 200 + ".docx")  # 3 bytes each: 605 bytes of UTF-8
    # 250 bytes are left for the stem: 83 whole "€" (249 bytes), as the 84th would be cut in two.
    assert stored == "€" * 83 + ".docx"
    assert len(stored.encode("utf-8")) == 254


def test_a_name_of_exactly_255_bytes_is_kept() -> None:
    name = "b" * 251 + ".pdf"
    assert sanitise_file_name(name) == name


def test_an_overlong_suffix_is_not_treated_as_an_extension() -> None:
    stored = sanitise_file_name("notes." + "x" * 400)
    assert stored == ("notes." + "x" * 400)[:255]


@pytest.mark.parametrize(
    ("sent", "stored"),
    [
        # U+202E RIGHT-TO-LEFT OVERRIDE: shown as "invoiceexe.pdf", it is an .exe.
        ("invoice\u202efdp.exe", "invoice_fdp.exe"),
        ("a\u2066b\u2069c\u200f.pdf", "a_b_c_.pdf"),  # isolates, right-to-left mark
        ("zero\u200bwidth.pdf", "zero_width.pdf"),
        ("line\u2028break\u2029.pdf", "line_break_.pdf"),
        ("private\ue000use.pdf", "private_use.pdf"),
        ("ok 😀 émoji.pdf", "ok 😀 émoji.pdf"),
    ],
)
def test_characters_that_disguise_a_name_are_replaced(sent: str, stored: str) -> None:
    assert sanitise_file_name(sent) == stored
