"""Secrets handed out once (Lead Post URL tokens, API tokens) and kept only as hashes (SPEC §1)."""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass

# 32 random bytes = 256 bits, well above SPEC §1's 128; url-safe so it fits a path segment.
TOKEN_BYTES = 32
# How long a token is: base64 of 32 bytes, unpadded.
TOKEN_CHARS = 43
# What of a token may be shown again after it was issued, to tell tokens apart (SPEC §9).
PREFIX_LENGTH = 6


def new_token() -> str:
    return secrets.token_urlsafe(TOKEN_BYTES)


def hash_token(token: str) -> str:
    # A plain SHA-256 suffices: the token is random with 256 bits of entropy, so there is nothing
    # for a slow password hash to protect against, and the lookup must be one indexed equality.
    return hashlib.sha256(token.encode("utf-8", "surrogatepass")).hexdigest()


@dataclass(frozen=True, slots=True)
class IssuedToken:
    """A new secret: `token` to show once, `hash` and `prefix` to store."""

    token: str
    hash: str
    prefix: str

    def __repr__(self) -> str:
        # Never the secret in a traceback's locals or a log line that prints the value.
        return f"IssuedToken(prefix={self.prefix!r})"


def issue_token() -> IssuedToken:
    token = new_token()
    return IssuedToken(token=token, hash=hash_token(token), prefix=token[:PREFIX_LENGTH])
