"""What an account's fields may hold (the daily goal's choices are part of identity's event contract). A refused
field raises ``InvalidFieldError`` (a 422 problem naming it)."""

from __future__ import annotations

import re
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from parla_identity.domain.passwords import password_policy_violation
from parla_shared.contracts.identity import DAILY_XP_GOALS
from parla_shared.problems import InvalidFieldError

EMAIL_PATTERN = re.compile(r"^[A-Za-z0-9._%+'-]+@[A-Za-z0-9-]+(\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,}$")
# Reserved for provider accounts without an email (TikTok).
PLACEHOLDER_EMAIL_DOMAIN = "@users.parla.invalid"


def valid_email(email: str, field: str = "email") -> str:
    email = email.strip()
    if len(email) > 254 or not EMAIL_PATTERN.match(email):
        raise InvalidFieldError(field, "email must be a valid address like name@example.com")
    return email


def valid_password(password: str, field: str = "password") -> str:
    violation = password_policy_violation(password)
    if violation:
        raise InvalidFieldError(field, violation)
    return password


def valid_name(name: str) -> str:
    name = name.strip()
    if not name or len(name) > 255:
        raise InvalidFieldError("name", "name must be 1 to 255 characters")
    return name


def valid_timezone(timezone: str) -> str:
    try:
        if not timezone or len(timezone) > 50 or timezone.startswith(("/", ".")):
            raise ZoneInfoNotFoundError(timezone)
        ZoneInfo(timezone)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise InvalidFieldError(
            "timezone", f"timezone must be an IANA time zone name like Europe/Madrid, not {timezone!r}"
        ) from exc
    return timezone


def valid_daily_xp_goal(goal: int) -> int:
    if goal not in DAILY_XP_GOALS:
        raise InvalidFieldError("daily_xp_goal", f"daily_xp_goal must be one of {', '.join(map(str, DAILY_XP_GOALS))}")
    return goal


def valid_avatar_url(url: str | None) -> str | None:
    if url is not None and (len(url) > 500 or not re.match(r"^https?://\S+$", url)):
        raise InvalidFieldError("avatar_url", "avatar_url must be an http(s) URL of at most 500 characters")
    return url


def valid_registration_email(email: str) -> str:
    """A password account's address: valid, and not in the domain reserved for provider accounts (a password
    account there would take the address a provider login needs, and could never be mailed)."""
    email = valid_email(email)
    if email.lower().endswith(PLACEHOLDER_EMAIL_DOMAIN):
        raise InvalidFieldError("email", f"addresses ending in {PLACEHOLDER_EMAIL_DOMAIN} are reserved")
    return email
