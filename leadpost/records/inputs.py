"""What a record is made from, as the code that makes one hands it over (a post's parser today).

Plain values, no database: the parser of a lead post builds them, the record actions store them.
"""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True, slots=True)
class AgentName:
    first: str
    last: str


@dataclass(slots=True)
class ParsedFile:
    """One file of a note: exactly one of `content` (decoded base64) or `url` is set."""

    name: str
    content: bytes | None = None
    url: str | None = None


@dataclass(slots=True)
class ParsedNote:
    number: int  # N of attachment_note_N_*: notes are applied in this order (SPEC §8 pinning)
    subject: str
    body: str
    pinned: bool
    files: list[ParsedFile] = field(default_factory=list)
