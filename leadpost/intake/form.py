"""Decoding an `application/x-www-form-urlencoded` body into parameters (SPEC §2).

Written by hand rather than with `urllib.parse.parse_qsl` because SPEC §2 needs what it hides: which
names came twice, which bytes did not decode, which `%` escapes were broken. It is also lighter on a
64 MiB body: one pass, never the whole body split into a list, no Python loop per escape.
"""

from __future__ import annotations

import codecs
import re
import string

from leadpost.intake.lead import DecodedForm
from leadpost.lib.problems import MAX_NAMED_WARNINGS, Problem, counted, listed, quoted

DEFAULT_CHARSET = "utf-8"

# A real lead is a few hundred pairs (SPEC §5-§8: ~30 fields, 5 notes of 5 files, custom fields).
# Each pair costs ~2 µs of Python and a 64 MiB body of "a&a&..." holds 32 million: reading stops
# here, so one post cannot hold a worker for a minute. The two required names come early in any
# real post; one whose names came later is rejected for missing them, and its warning says why.
MAX_PAIRS = 100_000

# A "%" not followed by two hex digits.
_BROKEN_ESCAPE = re.compile(rb"%(?![0-9A-Fa-f]{2})")
MAX_BROKEN_ESCAPES = 10_000

# Maps a value onto "%" / "h" (hex digit) / "." so that bytes.count(b"%hh") counts its valid
# escapes in C (occurrences cannot overlap: "h" is never "%").
_HEX_CLASSES = bytes(
    ord("%") if byte == ord("%") else ord("h") if chr(byte) in string.hexdigits else ord(".")
    for byte in range(256)
)

# Control characters (Unicode category Cc) but tab, LF and CR: PostgreSQL refuses NUL in text and
# jsonb, and none of them belongs in a lead (SPEC §2: replaced by U+FFFD and warned).
_CONTROL = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f]")


def replace_controls(text: str) -> str:
    """`text` with every control character but tab, LF and CR replaced by U+FFFD."""
    if _CONTROL.search(text) is None:
        return text
    return _CONTROL.sub("\ufffd", text)


# The characters a form body's structure and parameter names are made of: a charset that does not
# write them as ASCII (UTF-16, EBCDIC, UTF-7's "+") cannot carry this format.
_ASCII_PROBE = "=&+%;_-.~*" + string.ascii_letters + string.digits


def text_encoding(charset: str | None) -> str:
    """The Python codec for a Content-Type `charset`; LookupError when it cannot decode a form.

    The view answers 415 to the LookupError (SPEC §2: only form bodies are accepted).
    """
    if charset is None or not charset.strip(" \t\"'"):
        return DEFAULT_CHARSET
    name = codecs.lookup(charset.strip(" \t\"'")).name
    try:
        # str.encode raises LookupError for codecs that are not text encodings (base64, zlib, ...).
        ascii_compatible = _ASCII_PROBE.encode(name) == _ASCII_PROBE.encode("ascii")
    except UnicodeError:
        ascii_compatible = False
    if not ascii_compatible:
        raise LookupError(f"charset {charset!r} cannot encode a form body")
    return name


class _Decoder:
    """Decodes names and values of one body, remembering which ones had broken bytes or escapes."""

    def __init__(self, body: bytes | bytearray, encoding: str) -> None:
        self.body = body
        self.view = memoryview(body)
        self.encoding = encoding
        # Ordered sets (dict keys): a repeated name is listed once.
        self.bad_bytes: dict[str, None] = {}
        self.bad_escapes: dict[str, None] = {}
        self.kept_raw: dict[str, None] = {}
        self.controls: dict[str, None] = {}
        self._controls_here = False
        self._bad_bytes_here = False
        self._bad_escapes_here = False
        self._kept_raw_here = False

    def text(self, start: int, end: int) -> str:
        """body[start:end] decoded; read in place when there is nothing to unescape."""
        if start >= end:
            return ""
        body = self.body
        data: bytes | bytearray | memoryview
        if body.find(b"%", start, end) != -1:
            data = self._unescape(body[start:end])
        elif body.find(b"+", start, end) != -1:
            data = body[start:end].replace(b"+", b" ")
        else:
            data = self.view[start:end]
        try:
            text = str(data, self.encoding)
        except UnicodeDecodeError:
            self._bad_bytes_here = True
            text = str(data, self.encoding, "replace")
        if _CONTROL.search(text) is not None:
            self._controls_here = True
            text = _CONTROL.sub("\ufffd", text)
        return text

    def _unescape(self, raw: bytes | bytearray) -> bytes | bytearray:
        # Every step runs in C: a Python loop per escape takes ~15 s on a 64 MiB body that escapes
        # every byte. Each reassignment frees the previous copy, so at most two copies of the value
        # exist at once beside the body.
        raw = raw.replace(b"+", b" ")  # before unescaping: "%2B" must stay a plus sign
        broken = raw.count(b"%") - raw.translate(_HEX_CLASSES).count(b"%hh")
        if broken > MAX_BROKEN_ESCAPES:
            # Garbage, not a typo: fixing each escape costs ~0.3 µs in re.sub, 20 s for a 64 MiB
            # body of "%". The value is kept with no escape decoded (valid ones too), and warned.
            self._kept_raw_here = True
            return raw
        if broken:
            # Kept literally, as browsers and urllib do: the vendor sees it back in the value.
            self._bad_escapes_here = True
            raw = _BROKEN_ESCAPE.sub(b"%25", raw)
        # "%XY" -> "\xXY", read by the unicode_escape codec as code point U+00XY, which Latin-1
        # turns back into byte XY. Backslashes are doubled first so that no other escape exists;
        # other bytes pass through unicode_escape as Latin-1 and come back unchanged.
        raw = raw.replace(b"\\", b"\\\\").replace(b"%", b"\\x")
        latin1 = raw.decode("unicode_escape")
        del raw  # before encoding, or three copies of a 64 MiB value would be alive at once
        return latin1.encode("latin-1")

    def note(self, name: str) -> None:
        """Attribute the problems found since the last call to parameter `name`.

        An empty name is dropped with its value (SPEC §2 has nothing to name), so are its problems.
        """
        if name and self._bad_bytes_here:
            self.bad_bytes[name] = None
        if name and self._bad_escapes_here:
            self.bad_escapes[name] = None
        if name and self._kept_raw_here:
            self.kept_raw[name] = None
        if name and self._controls_here:
            self.controls[name] = None
        self._bad_bytes_here = self._bad_escapes_here = self._kept_raw_here = False
        self._controls_here = False


def _one_warning(names: list[str], code: str, rule: str) -> list[Problem]:
    # One warning per kind and body, not per parameter: a wrong charset would otherwise produce one
    # per parameter (SPEC §3 warnings stay readable).
    if not names:
        return []
    if len(names) == 1:
        return [Problem(names[0], code, f"parameter {quoted(names[0])}: {rule}")]
    shown = listed([quoted(name) for name in names])
    return [Problem(None, code, f"{len(names):,} parameters ({shown}): {rule}")]


def _duplicate_warnings(counts: dict[str, int]) -> list[Problem]:
    warnings = [
        Problem(
            name,
            "duplicate_parameter",
            f"parameter {quoted(name)} was given {count} times; the last value is used",
        )
        for name, count in list(counts.items())[:MAX_NAMED_WARNINGS]
    ]
    if len(counts) > MAX_NAMED_WARNINGS:
        more = len(counts) - MAX_NAMED_WARNINGS
        warnings.append(
            Problem(
                None,
                "duplicate_parameter",
                f"{counted(more, 'more parameter')} given more than once (names not listed); "
                "the last value of each is used",
            )
        )
    return warnings


def decode_form(body: bytes | bytearray, charset: str | None) -> DecodedForm:
    """The parameters of a urlencoded body, the last value winning for a repeated name (SPEC §2).

    `&` alone separates pairs (`;` is data, as in the WHATWG form encoding); `+` is a space; a pair
    without `=` is a name with an empty value; empty names are dropped. Raises LookupError for a
    charset that cannot decode a form (see `text_encoding`).
    """
    decoder = _Decoder(body, text_encoding(charset))
    params: dict[str, str] = {}
    repeats: dict[str, int] = {}
    size = len(body)
    pairs = 0
    start = 0
    while start < size and pairs < MAX_PAIRS:
        pairs += 1
        end = body.find(b"&", start)
        if end == -1:
            end = size
        equals = body.find(b"=", start, end)
        if equals == -1:
            name, value = decoder.text(start, end), ""
        else:
            name, value = decoder.text(start, equals), decoder.text(equals + 1, end)
        start = end + 1
        decoder.note(name)
        if not name:
            continue
        if name in params:
            repeats[name] = repeats.get(name, 1) + 1
        params[name] = value
    warnings = [
        *_one_warning(
            list(decoder.bad_bytes),
            "invalid_encoding",
            f"bytes that are not valid {decoder.encoding} were replaced by U+FFFD",
        ),
        *_one_warning(
            list(decoder.controls),
            "control_character",
            "control characters (NUL and the like; tab, CR and LF are kept) were replaced by "
            "U+FFFD",
        ),
        *_one_warning(
            list(decoder.bad_escapes),
            "invalid_percent_encoding",
            "a % not followed by two hex digits was kept as written (send % as %25)",
        ),
        *_one_warning(
            list(decoder.kept_raw),
            "invalid_percent_encoding",
            f"over {MAX_BROKEN_ESCAPES:,} % not followed by two hex digits; the value was kept "
            "with no % escape decoded",
        ),
        *_duplicate_warnings(repeats),
    ]
    if start < size:
        warnings.append(
            Problem(
                None,
                "too_many_parameters",
                f"only the first {MAX_PAIRS:,} name=value pairs were read; the remaining "
                f"{size - start:,} bytes of the body were ignored",
            )
        )
    return DecodedForm(params=params, warnings=warnings)
