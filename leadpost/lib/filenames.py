"""File names of attachments posted by vendors (SPEC §8)."""

from __future__ import annotations

import unicodedata

MAX_FILE_NAME_BYTES = 255  # common file systems' limit on one name, in bytes of UTF-8 (SPEC §8)
FALLBACK_FILE_NAME = "file"

# Characters Windows forbids in names; "/" and "\" also stop a name from reaching into a directory.
_INVALID = frozenset('\\/:*?"<>|')

# A suffix longer than this after the last dot is not an extension worth keeping whole
# ("notes.of the meeting with ..."): such a name is cut at its end like any other.
_MAX_EXTENSION_BYTES = 32


# Control characters (Cc), and format characters (Cf: the bidirectional overrides that make
# "invoice\u202efdp.exe" show as "invoiceexe.pdf", zero-width spaces), line and paragraph
# separators (Zl, Zp), and private-use or unassigned code points (Co, Cn, Cs): none belongs in a
# name a user reads before opening the file.
_INVALID_CATEGORIES = frozenset({"Cc", "Cf", "Zl", "Zp", "Co", "Cn", "Cs"})


def _valid_char(ch: str) -> str:
    if ch in _INVALID or unicodedata.category(ch) in _INVALID_CATEGORIES:
        return "_"
    return ch


def _truncate_utf8(text: str, limit: int) -> str:
    # Cutting the encoded bytes may split a character; "ignore" drops the partial one.
    return text.encode("utf-8")[:limit].decode("utf-8", "ignore")


def sanitise_file_name(name: str) -> str:
    """A file name safe to store and to offer for download, close to what the vendor sent.

    Invalid characters and control characters become `_`, leading dots (hidden files, `..`) and
    surrounding spaces go, and a name over 255 bytes is shortened keeping its extension. An empty
    result becomes `file`.
    """
    cleaned = "".join(_valid_char(ch) for ch in name).lstrip(". ").rstrip()
    if len(cleaned.encode("utf-8")) > MAX_FILE_NAME_BYTES:
        stem, dot, extension = cleaned.rpartition(".")
        suffix = dot + extension
        suffix_bytes = len(suffix.encode("utf-8"))
        if stem and suffix_bytes <= _MAX_EXTENSION_BYTES:
            cleaned = _truncate_utf8(stem, MAX_FILE_NAME_BYTES - suffix_bytes).rstrip() + suffix
        else:
            cleaned = _truncate_utf8(cleaned, MAX_FILE_NAME_BYTES).rstrip()
    return cleaned or FALLBACK_FILE_NAME
