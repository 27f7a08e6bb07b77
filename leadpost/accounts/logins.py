"""Throttled logins (SPEC §10): failures are counted per user name and per client address.

Each is locked for the rest of its window once it reaches its limit (LEADPOST_LOGIN_* settings):
5 failures of one user name, or 30 from one address, in 15 minutes by default. A locked login is
refused before the password is checked, with one answer whether or not the user exists, and is
not counted itself, so a locked user name opens again when its window ends.
"""

from __future__ import annotations

import datetime as dt
import math
from dataclasses import dataclass
from typing import Any

from django import forms
from django.conf import settings
from django.core.exceptions import ValidationError
from django.db.models import F
from django.http import HttpRequest
from django.utils import timezone
from django.utils.crypto import salted_hmac
from django.views.decorators.debug import sensitive_variables

from leadpost.accounts.models import LoginFailure, LoginScope
from leadpost.lib.clientaddr import client_ip

THROTTLED = "Too many failed logins; try again in {minutes} minute{s}."


@dataclass(frozen=True, slots=True)
class Counter:
    """One thing failures are counted for: a user name (hashed) or an address."""

    scope: LoginScope
    key: str
    limit: int


def counters(username: str, request: HttpRequest | None) -> list[Counter]:
    # Keyed with the secret key: a plain hash of a password typed as a user name could be
    # reversed by trying common passwords. Case and spaces do not make another user name.
    name = salted_hmac(
        "leadpost.accounts.logins", username.strip().casefold(), algorithm="sha256"
    ).hexdigest()
    found = [Counter(LoginScope.USER, name, settings.LEADPOST_LOGIN_MAX_FAILURES_PER_USER)]
    address = client_ip(request.META) if request is not None else None
    if address is not None:
        found.append(
            Counter(LoginScope.ADDRESS, address, settings.LEADPOST_LOGIN_MAX_FAILURES_PER_ADDRESS)
        )
    return found


def _window() -> dt.timedelta:
    return dt.timedelta(seconds=settings.LEADPOST_LOGIN_WINDOW_SECONDS)


def locked_for(counted: list[Counter], now: dt.datetime) -> dt.timedelta | None:
    """How long until a login counted by `counted` may be tried again; None: it may now."""
    longest: dt.timedelta | None = None
    for counter in counted:
        windows = LoginFailure.objects.filter(
            scope=counter.scope, key=counter.key, window_start__gt=now - _window()
        ).order_by("window_start")
        # Two first failures at once may open two windows: the count is their sum, and it
        # drops below the limit once enough of the oldest have ended.
        rows = list(windows.values_list("window_start", "failures"))
        remaining = sum(failures for _, failures in rows)
        ends = None
        for started, failures in rows:
            if remaining < counter.limit:
                break
            remaining -= failures
            ends = started + _window()
        if ends is not None and (longest is None or ends - now > longest):
            longest = ends - now
    return longest


def count_failure(counted: list[Counter], now: dt.datetime) -> None:
    for counter in counted:
        current = (
            LoginFailure.objects.filter(
                scope=counter.scope, key=counter.key, window_start__gt=now - _window()
            )
            .order_by("-window_start")
            .first()
        )
        if current is None:
            LoginFailure.objects.create(
                scope=counter.scope, key=counter.key, window_start=now, failures=1
            )
        else:
            # In the database, so that concurrent failures each count.
            LoginFailure.objects.filter(pk=current.pk).update(failures=F("failures") + 1)
    # Ended windows count for nothing: the table holds only the current ones.
    LoginFailure.objects.filter(window_start__lte=now - _window()).delete()


def throttled_error(wait: dt.timedelta) -> ValidationError:
    minutes = max(1, math.ceil(wait.total_seconds() / 60))
    return ValidationError(
        THROTTLED.format(minutes=minutes, s="" if minutes == 1 else "s"), code="throttled"
    )


class ThrottledLogin(forms.Form):
    """A login form (Django's `AuthenticationForm` family) that counts and throttles failures.

    Put it first among the bases: it asks the throttle before the form's own `clean()` looks
    the user up or checks the password, and counts every login that `clean()` refuses.
    """

    request: HttpRequest | None

    @sensitive_variables("password")
    def clean(self) -> dict[str, Any]:
        username = self.cleaned_data.get("username")
        password = self.cleaned_data.get("password")
        if username is None or not password:
            return super().clean() or self.cleaned_data
        counted = counters(username, self.request)
        wait = locked_for(counted, timezone.now())
        if wait is not None:
            raise throttled_error(wait)
        try:
            return super().clean() or self.cleaned_data
        except ValidationError:
            count_failure(counted, timezone.now())
            raise
