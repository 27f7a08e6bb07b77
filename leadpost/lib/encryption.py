"""SSNs at rest (SPEC §5, §9): Fernet encryption with keys of their own, plus an HMAC blind index.

The keys are not SECRET_KEY: rotating the session secret must not make SSNs unreadable, and a leaked
SECRET_KEY must not expose them. MultiFernet encrypts with the first key and decrypts with any, so a
new key is put first and old rows are re-encrypted at leisure (`leadpost rotate-ssn-keys`).
"""

from __future__ import annotations

import functools
import hashlib
import hmac

from cryptography.fernet import Fernet, MultiFernet
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured


@functools.cache
def _fernet() -> MultiFernet:
    try:
        return MultiFernet([Fernet(key.strip().encode()) for key in settings.SSN_KEYS])
    except (ValueError, TypeError) as exc:
        raise ImproperlyConfigured(
            "LEADPOST_SSN_KEYS must be comma-separated Fernet keys "
            '(make one with: python -c "from cryptography.fernet import Fernet; '
            'print(Fernet.generate_key().decode())")'
        ) from exc


def encrypt_ssn(digits: str) -> str:
    return _fernet().encrypt(digits.encode()).decode()


def decrypt_ssn(token: str) -> str:
    return _fernet().decrypt(token.encode()).decode()


def rotate_ssn(token: str) -> str:
    """Re-encrypt with the newest key (no-op in effect when it already is)."""
    return _fernet().rotate(token.encode()).decode()


def encrypt_secret(text: str) -> str:
    """A secret we must read back to use (a webhook's signing secret), under the same keys."""
    return _fernet().encrypt(text.encode()).decode()


def decrypt_secret(token: str) -> str:
    return _fernet().decrypt(token.encode()).decode()


def ssn_index(digits: str) -> str:
    """A keyed hash of the nine digits: equal SSNs match without storing or decrypting them."""
    return hmac.new(settings.SSN_INDEX_KEY.encode(), digits.encode(), hashlib.sha256).hexdigest()
