"""Notes and their files in a lead post (SPEC §8), checked without the database.

Parameters, for N and M from 1 to 5:
`attachment_note_N_subject_text`, `attachment_note_N_body_text`, `attachment_note_N_pinned`,
`attach_file_to_note_N`, `attachment_note_N_file_name_M`, `..._file_body_M`, `..._file_url_M`.
"""

from __future__ import annotations

import base64
import binascii
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from urllib.parse import urlsplit

from leadpost.lib.filenames import sanitise_file_name
from leadpost.lib.problems import Problem, counted, listed, quoted
from leadpost.records.inputs import ParsedFile, ParsedNote

MAX_NOTES = 5
MAX_FILES_PER_NOTE = 5
MAX_SUBJECT_BYTES = 65_535  # SPEC §8
MAX_BODY_BYTES = 4_294_967_295  # SPEC §8

# Numbers are written without leading zeros; "attachment_note_0_..." or "..._01_..." is an unknown
# parameter (with a spelling suggestion), not note 1.
_NUMBER = r"[1-9][0-9]*"
_NOTE_PARAM = re.compile(
    rf"attachment_note_(?P<note>{_NUMBER})_"
    rf"(?:(?P<part>subject_text|body_text|pinned)|file_(?P<kind>name|body|url)_(?P<file>{_NUMBER}))"
    rf"|attach_file_to_note_(?P<flag_note>{_NUMBER})"
)

NOTE_PARAMETER_NAMES: tuple[str, ...] = tuple(
    name
    for n in range(1, MAX_NOTES + 1)
    for name in (
        f"attachment_note_{n}_subject_text",
        f"attachment_note_{n}_body_text",
        f"attachment_note_{n}_pinned",
        f"attach_file_to_note_{n}",
        *(
            f"attachment_note_{n}_file_{kind}_{m}"
            for m in range(1, MAX_FILES_PER_NOTE + 1)
            for kind in ("name", "body", "url")
        ),
    )
)

_URL_SAFE_TO_STANDARD = bytes.maketrans(b"-_", b"+/")


def is_note_parameter(name: str) -> bool:
    """Whether `name` is shaped like a note or file parameter, whatever its numbers."""
    return _NOTE_PARAM.fullmatch(name) is not None


@dataclass
class _FileParams:
    name: str = ""
    body: str = ""
    url: str = ""


@dataclass
class _NoteParams:
    subject: str = ""
    body: str = ""
    pinned: str = ""
    attach: str = ""
    files: dict[int, _FileParams] = field(default_factory=dict)
    # Parameter names of files numbered beyond MAX_FILES_PER_NOTE, with a value.
    extra_files: list[str] = field(default_factory=list)

    @property
    def wanted(self) -> bool:
        # A vendor's template often sends every parameter, empty or "0": that is no note at all.
        flags = (self.pinned, self.attach)
        return bool(self.subject or self.body or self.files or self.extra_files or "1" in flags)


def decode_base64(value: str) -> bytes | None:
    """The bytes of standard or URL-safe base64; whitespace ignored, padding optional (SPEC §8).

    Strict otherwise: a character outside the alphabets, or a length no encoding produces, is None.
    """
    try:
        data = value.encode("ascii")
    except UnicodeEncodeError:
        return None
    data = b"".join(data.split()).translate(_URL_SAFE_TO_STANDARD).rstrip(b"=")
    if len(data) % 4 == 1:
        return None
    data += b"=" * (-len(data) % 4)
    try:
        return base64.b64decode(data, validate=True)
    except binascii.Error:
        return None


def _decode_file_body(value: str) -> tuple[bytes | None, bool]:
    """(content, spaces_read_as_plus).

    A vendor who does not percent-encode base64 sends "+" raw, and the form encoding turns it into
    a space. Spaces in base64 that has no "+" (nor URL-safe "-" or "_") are read as "+" when that
    gives valid base64, so the file is not lost to the most common encoding slip.
    """
    if " " in value and not any(ch in value for ch in "+-_"):
        content = decode_base64(value.replace(" ", "+"))
        if content is not None:
            return content, True
    return decode_base64(value), False


def _valid_file_url(url: str) -> bool:
    # SPEC §8: must start with http:// or https:// (the scheme in any case). A host is needed too;
    # whether it is a public address is checked by the downloader, on every connection.
    if not url[:8].lower().startswith(("http://", "https://")):
        return False
    if any(ch.isspace() or ord(ch) < 0x20 for ch in url):
        return False
    try:
        parts = urlsplit(url)
        _ = parts.port  # raises ValueError for a port that is not a number in range
    except ValueError:
        return False
    return bool(parts.hostname)


def _utf8_length_over(text: str, limit: int) -> bool:
    # Encoding a 64 MiB body only to measure it is wasteful: a UTF-8 character is at most 4 bytes.
    return len(text) * 4 > limit and len(text.encode("utf-8")) > limit


def _collect(params: Mapping[str, str]) -> tuple[dict[int, _NoteParams], list[str]]:
    notes: dict[int, _NoteParams] = {}
    extra_notes: list[str] = []  # parameter names of notes beyond MAX_NOTES, with a value
    for name, raw in params.items():
        match = _NOTE_PARAM.fullmatch(name)
        if match is None:
            continue
        value = raw.strip()
        if not value:
            continue  # SPEC §2: an empty value counts as absent
        number_text = match["note"] or match["flag_note"]
        number = int(number_text) if len(number_text) == 1 else MAX_NOTES + 1
        if number > MAX_NOTES:
            extra_notes.append(name)
            continue
        note = notes.setdefault(number, _NoteParams())
        if match["flag_note"]:
            note.attach = value
        elif match["part"] == "subject_text":
            note.subject = value
        elif match["part"] == "body_text":
            note.body = value
        elif match["part"] == "pinned":
            note.pinned = value
        else:
            file_text = match["file"]
            file_number = int(file_text) if len(file_text) == 1 else MAX_FILES_PER_NOTE + 1
            if file_number > MAX_FILES_PER_NOTE:
                note.extra_files.append(name)
                continue
            setattr(note.files.setdefault(file_number, _FileParams()), match["kind"], value)
    return notes, extra_notes


def parse_notes(params: Mapping[str, str]) -> tuple[list[ParsedNote], list[Problem]]:
    """The notes of a post in order 1..5, and warnings for what was skipped (SPEC §8)."""
    warnings: list[Problem] = []
    collected, extra_notes = _collect(params)
    notes = []
    for number in sorted(collected):
        note = _parse_note(number, collected[number], warnings)
        if note is not None:
            notes.append(note)
    if extra_notes:
        warnings.append(
            Problem(
                extra_notes[0],
                "too_many_notes",
                f"only notes 1 to {MAX_NOTES} are read; {counted(len(extra_notes), 'parameter')} "
                f"of further notes ignored: {listed([quoted(n) for n in extra_notes])}",
            )
        )
    return notes, warnings


def _parse_note(number: int, raw: _NoteParams, warnings: list[Problem]) -> ParsedNote | None:
    prefix = f"attachment_note_{number}_"
    if not raw.wanted:
        return None
    missing = [
        f"{prefix}{part}"
        for part, value in (("subject_text", raw.subject), ("body_text", raw.body))
        if not value
    ]
    if missing:
        warnings.append(
            Problem(
                missing[0],
                "note_incomplete",
                f"note {number} needs both {prefix}subject_text and {prefix}body_text; "
                f"{' and '.join(missing)} missing or empty, so note {number} and its files "
                "were not stored",
            )
        )
        return None
    if _utf8_length_over(raw.subject, MAX_SUBJECT_BYTES):
        warnings.append(
            Problem(
                f"{prefix}subject_text",
                "too_long",
                f"{prefix}subject_text is {len(raw.subject.encode('utf-8')):,} bytes, over the "
                f"limit of {MAX_SUBJECT_BYTES:,}; note {number} and its files were not stored",
            )
        )
        return None
    if _utf8_length_over(raw.body, MAX_BODY_BYTES):
        warnings.append(
            Problem(
                f"{prefix}body_text",
                "too_long",
                f"{prefix}body_text is over the limit of {MAX_BODY_BYTES:,} bytes; note {number} "
                "and its files were not stored",
            )
        )
        return None
    if raw.pinned not in ("", "0", "1"):
        warnings.append(
            Problem(
                f"{prefix}pinned",
                "invalid_choice",
                f"{prefix}pinned {quoted(raw.pinned)} is not 1 or 0; read as 0, not pinned",
            )
        )
    note = ParsedNote(number=number, subject=raw.subject, body=raw.body, pinned=raw.pinned == "1")
    file_params = len(raw.files) + len(raw.extra_files)
    if raw.attach != "1":
        if file_params:
            flag = f"attach_file_to_note_{number}"
            sent = f"is {quoted(raw.attach)}" if raw.attach else "was not sent"
            warnings.append(
                Problem(
                    flag,
                    "files_not_enabled",
                    f"{flag} {sent}, not 1, so the files given for note {number} were ignored",
                )
            )
        return note
    for file_number in sorted(raw.files):
        parsed = _parse_file(prefix, file_number, raw.files[file_number], warnings)
        if parsed is not None:
            note.files.append(parsed)
    if raw.extra_files:
        warnings.append(
            Problem(
                raw.extra_files[0],
                "too_many_files",
                f"only files 1 to {MAX_FILES_PER_NOTE} of note {number} are read; ignored: "
                f"{listed([quoted(n) for n in raw.extra_files])}",
            )
        )
    return note


def _parse_file(
    prefix: str, number: int, raw: _FileParams, warnings: list[Problem]
) -> ParsedFile | None:
    name_param = f"{prefix}file_name_{number}"
    body_param = f"{prefix}file_body_{number}"
    url_param = f"{prefix}file_url_{number}"
    if not raw.name:
        warnings.append(
            Problem(
                name_param,
                "file_name_missing",
                f"{name_param} is required with {body_param} or {url_param}; file not attached",
            )
        )
        return None
    name = sanitise_file_name(raw.name)
    if raw.body:
        if raw.url:
            warnings.append(
                Problem(
                    url_param,
                    "both_body_and_url",
                    f"{body_param} and {url_param} were both given; the body was used and the "
                    "URL ignored",
                )
            )
        content, spaces_as_plus = _decode_file_body(raw.body)
        if content is None:
            warnings.append(
                Problem(
                    body_param,
                    "invalid_base64",
                    f"{body_param} ({counted(len(raw.body), 'character')}) is not valid base64 "
                    "(standard or URL-safe alphabet); file not attached",
                )
            )
            return None
        if spaces_as_plus:
            warnings.append(
                Problem(
                    body_param,
                    "unencoded_plus",
                    f"{body_param} had spaces, read as '+': a '+' in a form body must be sent "
                    "as %2B, or it arrives as a space",
                )
            )
        return ParsedFile(name=name, content=content)
    if raw.url:
        if not _valid_file_url(raw.url):
            warnings.append(
                Problem(
                    url_param,
                    "invalid_url",
                    f"{url_param} {quoted(raw.url)} is not an http:// or https:// URL with a host; "
                    "file not attached",
                )
            )
            return None
        return ParsedFile(name=name, url=raw.url)
    warnings.append(
        Problem(
            name_param,
            "file_content_missing",
            f"{name_param} {quoted(raw.name)} came without {body_param} or {url_param}; "
            "nothing to attach",
        )
    )
    return None
