"""Login throttling and abuse limits, counted in the database."""

from __future__ import annotations

import math
from collections.abc import Sequence

from sqlalchemy.ext.asyncio import AsyncSession

from parla_identity.settings import IdentitySettings
from parla_shared.context import request_context
from parla_shared.ratelimit import RateLimitTable, limit_key

RATE_LIMITS = RateLimitTable("identity")


def throttle_keys(email: str, ip: str | None) -> list[str]:
    """The failed-login keys: the account (its email) and, when known, the client address."""
    keys = [limit_key("account", email.strip().lower())]
    if ip:
        keys.append(limit_key("ip", ip))
    return keys


async def throttled_for(session: AsyncSession, keys: Sequence[str]) -> int | None:
    """Seconds until a login may be tried again, when any of the keys (account, client IP) is locked."""
    seconds = await RATE_LIMITS.locked_for(session, keys)
    return None if seconds is None else max(1, math.ceil(seconds))


async def record_login_failure(session: AsyncSession, settings: IdentitySettings, key: str, limit: int) -> None:
    """Counts a failure in the key's window; reaching ``limit`` locks the key for the lockout period."""
    failures, _ = await RATE_LIMITS.count(session, key, settings.login_failure_window_seconds)
    if failures >= limit:
        await RATE_LIMITS.lock(session, key, settings.login_lockout_seconds)


async def clear_login_failures(session: AsyncSession, key: str) -> None:
    await RATE_LIMITS.clear(session, key)


async def limit_requests(
    session: AsyncSession,
    settings: IdentitySettings,
    action: str,
    *,
    email: str | None,
    detail: str,
) -> None:
    """Counts one ``action`` (register, password_reset, oauth_authorize) for the requesting client's address and,
    when given, the email address it is about; 429 past either limit (settings ``rate_limit_<action>_per_ip|email``)."""
    ip = request_context.get().ip
    limits = []
    if ip:
        limits.append((limit_key(f"{action}-ip", ip), settings.rate_limit(f"{action}_per_ip")))
    if email is not None:
        limits.append((limit_key(f"{action}-email", email.strip().lower()), settings.rate_limit(f"{action}_per_email")))
    await RATE_LIMITS.hit(session, limits, detail)
