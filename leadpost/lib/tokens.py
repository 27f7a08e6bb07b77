"""Secrets handed out once (Lead Post URL tokens, API tokens) and kept only as hashes (SPEC §1)."""

from __future__ import annotations

import hashlib
import secrets

# 32 random bytes = 256 bits, well above SPEC §1's 128; url-safe so it fits a path segment.
TOKEN_BYTES = 32


def new_token() -> str:
    return secrets.token_urlsafe(TOKEN_BYTES)


def hash_token(token: str) -> str:
    # A plain SHA-256 suffices: the token is random with 256 bits of entropy, so there is nothing
    # for a slow password hash to protect against, and the lookup must be one indexed equality.
    return hashlib.sha256(token.encode("utf-8", "surrogatepass")).hexdigest()
