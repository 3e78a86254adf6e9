"""Secrets that fail closed: outside development a placeholder, a development default or a weak secret stops start-up.

``PARLA_ENVIRONMENT`` declares where a process runs: ``development`` (``make run``), ``test`` (``make test``) or
``production``, the default, so a deployment that forgets to say gets the checks. Two strengths:

- a secret Parla's operator generates (identity's secret keys, the database role passwords) must carry at least
  256 bits (32 random bytes: ``openssl rand -base64 32`` or ``openssl rand -hex 32``);
- a credential someone else issues (OAuth client secrets, S3 keys, SMTP and admin passwords) only must not be a
  placeholder or a development default.
"""

from __future__ import annotations

import math
import re
import string
from collections.abc import Collection, Mapping
from urllib.parse import unquote, urlsplit

MIN_SECRET_BITS = 256
# The client secret every service uses with identity for service tokens when none is set (development only).
DEV_SERVICE_CLIENT_SECRET = "parla-dev-service-secret"  # noqa: S105 - documented development default
# Identity's development list of those secrets (``PARLA_SERVICE_CLIENT_SECRETS``).
DEV_SERVICE_CLIENT_SECRETS = ",".join(
    f"{service}={DEV_SERVICE_CLIENT_SECRET}" for service in ("curriculum", "progress", "analytics")
)
# The development defaults shipped in this repository (README, docker-compose.yml): refused outside development.
DEVELOPMENT_SECRETS = frozenset(
    {
        "parla-dev",
        "parla-dev-identity-secret-key-change-me",
        "ParlaAdmin1!",
        "postgres",
        DEV_SERVICE_CLIENT_SECRET,
        DEV_SERVICE_CLIENT_SECRETS,
        *(f"parla-dev-{service}" for service in ("identity", "curriculum", "progress", "analytics")),
    }
)
# Words that mark a value as a stand-in for a real one ("CHANGE-ME", "replace_me", "<your-secret>", ...).
_PLACEHOLDER = re.compile(
    r"change[\W_]*me|replace[\W_]*(me|this)|placeholder|example|dummy|your[\W_]*(secret|password|key)|^<.*>$|x{6,}",
    re.IGNORECASE,
)


def is_development(environment: str) -> bool:
    return environment in ("development", "test")


def estimated_bits(value: str) -> float:
    """An upper-bound estimate: length times the bits of the alphabet the value draws from.

    Hex counts 4 bits a character; otherwise each character class used (lower, upper, digits, punctuation)
    widens the alphabet. A value repeating a few characters ("aaaa…", "abcabc…") counts as weak whatever its
    length: fewer distinct characters than a quarter of its length (at most 10) is no random string.
    """
    if not value:
        return 0.0
    if len(set(value)) < min(len(value) / 4, 10):
        return 0.0
    if all(char in string.hexdigits for char in value) and (value.islower() or value.isupper()):
        return len(value) * 4.0
    alphabet = sum(
        size
        for chars, size in (
            (string.ascii_lowercase, 26),
            (string.ascii_uppercase, 26),
            (string.digits, 10),
        )
        if any(char in chars for char in value)
    )
    if any(char not in string.ascii_letters + string.digits for char in value):
        alphabet += 33
    return len(value) * math.log2(alphabet)


def placeholder_reason(value: str, *, development_values: Collection[str] = ()) -> str | None:
    """Why ``value`` is not a real secret (a placeholder or a development default), or None."""
    if value in DEVELOPMENT_SECRETS or value in development_values:
        return "is a development default"
    if _PLACEHOLDER.search(value):
        return "is a placeholder"
    return None


def weak_secret_reason(value: str, *, development_values: Collection[str] = ()) -> str | None:
    """Why ``value`` cannot be a generated secret (placeholder, development default, under 256 bits), or None."""
    if not value:
        return "is empty"
    reason = placeholder_reason(value, development_values=development_values)
    if reason is not None:
        return reason
    if estimated_bits(value) < MIN_SECRET_BITS:
        return "is too weak: it needs 32 random bytes (256 bits), e.g. `openssl rand -base64 32`"
    return None


def url_password(url: str) -> str | None:
    """The password in a ``scheme://user:password@host/...`` URL, decoded, or None."""
    password = urlsplit(url).password
    return unquote(password) if password is not None else None


def refuse(problems: Mapping[str, str]) -> None:
    """One error naming every offending setting (``PARLA_X is a placeholder; …``)."""
    if problems:
        listed = "; ".join(f"{name} {reason}" for name, reason in problems.items())
        raise ValueError(f"refusing to start outside development: {listed}")
