"""Identity's rules, independent of HTTP: validation, accounts, one-time tokens, login throttling and abuse limits,
token pairs."""

from __future__ import annotations

import hashlib
import hmac
import math
import re
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any
from uuid import UUID
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import jwt
from sqlalchemy import func, select, text, update
from sqlalchemy.ext.asyncio import AsyncSession

from parla_identity import events
from parla_identity.crypto import SecretBox, opaque_token, token_hash
from parla_identity.keys import ALGORITHM, SigningKeyStore
from parla_identity.mail import Mailer
from parla_identity.models import RefreshToken, User, UserRole, UserToken
from parla_identity.passwords import hash_password, password_policy_violation
from parla_identity.schemas import TokenPair, UserRead
from parla_identity.settings import IdentitySettings
from parla_shared.auth import ACCESS_TOKEN_TYPE, SERVICE_TOKEN_TYPE, service_audience
from parla_shared.events.outbox import Outbox
from parla_shared.problems import Problem
from parla_shared.ratelimit import RateLimitTable, limit_key

EMAIL_PATTERN = re.compile(r"^[A-Za-z0-9._%+'-]+@[A-Za-z0-9-]+(\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,}$")
DAILY_XP_GOALS = (10, 20, 30, 50)
EMAIL_VERIFICATION = "email_verification"
PASSWORD_RESET = "password_reset"  # noqa: S105 - a token purpose
PLACEHOLDER_EMAIL_DOMAIN = "@users.parla.invalid"


@dataclass
class Identity:
    """What the identity handlers share: settings, the secret box, signing keys and the mailer."""

    settings: IdentitySettings
    box: SecretBox
    keys: SigningKeyStore
    mailer: Mailer

    @classmethod
    def from_settings(cls, settings: IdentitySettings) -> Identity:
        box = SecretBox.from_settings(settings)
        return cls(settings=settings, box=box, keys=SigningKeyStore(settings, box), mailer=Mailer(settings))


# --- validation -------------------------------------------------------------------------------------------


def invalid(field: str, message: str) -> Problem:
    return Problem(
        422,
        "Validation failed",
        message,
        extra={"errors": [{"key": field, "message": message, "source": "body"}]},
    )


def valid_email(email: str, field: str = "email") -> str:
    email = email.strip()
    if len(email) > 254 or not EMAIL_PATTERN.match(email):
        raise invalid(field, "email must be a valid address like name@example.com")
    return email


def valid_password(password: str, field: str = "password") -> str:
    violation = password_policy_violation(password)
    if violation:
        raise invalid(field, violation)
    return password


def valid_name(name: str) -> str:
    name = name.strip()
    if not name or len(name) > 255:
        raise invalid("name", "name must be 1 to 255 characters")
    return name


def valid_timezone(timezone: str) -> str:
    try:
        if not timezone or len(timezone) > 50 or timezone.startswith(("/", ".")):
            raise ZoneInfoNotFoundError(timezone)
        ZoneInfo(timezone)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise invalid(
            "timezone", f"timezone must be an IANA time zone name like Europe/Madrid, not {timezone!r}"
        ) from exc
    return timezone


def valid_daily_xp_goal(goal: int) -> int:
    if goal not in DAILY_XP_GOALS:
        raise invalid("daily_xp_goal", "daily_xp_goal must be one of 10, 20, 30, 50")
    return goal


def valid_avatar_url(url: str | None) -> str | None:
    if url is not None and (len(url) > 500 or not re.match(r"^https?://\S+$", url)):
        raise invalid("avatar_url", "avatar_url must be an http(s) URL of at most 500 characters")
    return url


def user_read(user: User) -> UserRead:
    return UserRead(
        id=user.id,
        email=user.email,
        name=user.name,
        avatar_url=user.avatar_url,
        is_email_verified=user.is_email_verified,
        daily_xp_goal=user.daily_xp_goal,
        timezone=user.timezone,
        roles=list(user.role_names),
        created_at=user.created_at,
    )


# --- accounts ---------------------------------------------------------------------------------------------


async def find_user_by_email(session: AsyncSession, email: str) -> User | None:
    return await session.scalar(select(User).where(func.lower(User.email) == email.strip().lower()))


async def email_taken(session: AsyncSession, email: str) -> bool:
    found = await session.scalar(select(User.id).where(func.lower(User.email) == email.strip().lower()))
    return found is not None


async def create_user(
    session: AsyncSession,
    *,
    email: str,
    name: str,
    password_hash: str | None,
    timezone: str = "UTC",
    daily_xp_goal: int = 20,
    avatar_url: str | None = None,
    is_email_verified: bool = False,
    roles: Sequence[str] = (),
) -> User:
    user = User(
        email=email,
        name=name,
        password_hash=password_hash,
        timezone=timezone,
        daily_xp_goal=daily_xp_goal,
        avatar_url=avatar_url,
        is_email_verified=is_email_verified,
        roles=[UserRole(role=role) for role in roles],
    )
    session.add(user)
    await session.flush()
    await session.refresh(user, ["created_at", "updated_at"])
    return user


async def user_by_id(session: AsyncSession, user_id: UUID) -> User | None:
    return await session.get(User, user_id, populate_existing=True)


async def create_admin(identity: Identity, session: AsyncSession, email: str, password: str, name: str) -> User:
    """Creates the admin, or makes an existing account with that email an admin (idempotent)."""
    email = valid_email(email)
    valid_password(password)
    user = await find_user_by_email(session, email)
    if user is None:
        return await create_user(
            session,
            email=email,
            name=name,
            password_hash=await hash_password(password, identity.settings.bcrypt_rounds),
            is_email_verified=True,
            roles=("admin",),
        )
    if "admin" not in user.role_names:
        user.roles.append(UserRole(role="admin"))
        await session.flush()
    return user


# --- one-time tokens (email verification, password reset) -------------------------------------------------


async def issue_user_token(session: AsyncSession, user_id: UUID, purpose: str, lifetime: timedelta) -> str:
    token = opaque_token()
    session.add(
        UserToken(
            user_id=user_id, purpose=purpose, token_hash=token_hash(token), expires_at=datetime.now(UTC) + lifetime
        )
    )
    await session.flush()
    return token


def invalid_token() -> Problem:
    return Problem(400, "Invalid token", "the token is unknown, expired or already used")


async def check_user_token(session: AsyncSession, token: str, purpose: str) -> None:
    """400 unless the token could be consumed now; it is not used up (``consume_user_token`` does that)."""
    live = await session.scalar(
        select(UserToken.id).where(
            UserToken.token_hash == token_hash(token),
            UserToken.purpose == purpose,
            UserToken.used_at.is_(None),
            UserToken.expires_at > datetime.now(UTC),
        )
    )
    if live is None:
        raise invalid_token()


async def consume_user_token(session: AsyncSession, token: str, purpose: str) -> UUID:
    """The user the token belongs to; the token is used up. 400 when unknown, used, expired or of another kind."""
    row = await session.scalar(
        select(UserToken)
        .where(UserToken.token_hash == token_hash(token), UserToken.purpose == purpose)
        .with_for_update()
    )
    if row is None or row.used_at is not None or row.expires_at <= datetime.now(UTC):
        raise invalid_token()
    row.used_at = datetime.now(UTC)
    # Any other outstanding token of the same kind is void too.
    await session.execute(
        update(UserToken)
        .where(UserToken.user_id == row.user_id, UserToken.purpose == purpose, UserToken.used_at.is_(None))
        .values(used_at=text("now()"))
    )
    return row.user_id


# --- login throttling and abuse limits --------------------------------------------------------------------

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
    ip: str | None,
    email: str | None,
    detail: str,
) -> None:
    """Counts one ``action`` (register, password_reset, oauth_authorize) for the client address and, when given,
    the email address it is about; 429 past either limit (settings ``rate_limit_<action>_per_ip|email``)."""
    limits = []
    if ip:
        limits.append((limit_key(f"{action}-ip", ip), settings.rate_limit(f"{action}_per_ip")))
    if email is not None:
        limits.append((limit_key(f"{action}-email", email.strip().lower()), settings.rate_limit(f"{action}_per_email")))
    await RATE_LIMITS.hit(session, limits, detail)


# --- access and refresh tokens ----------------------------------------------------------------------------


async def _signed_token(
    identity: Identity, token_type: str, *, audience: str, subject: str, ttl_seconds: int, **claims: Any
) -> str:
    """A JWT signed with the active key: the registered claims every Parla token carries, plus ``claims``."""
    kid, private_key = await identity.keys.active_key()
    now = datetime.now(UTC)
    registered = {
        "iss": identity.settings.jwt_issuer,
        "aud": audience,
        "sub": subject,
        "iat": now,
        "exp": now + timedelta(seconds=ttl_seconds),
        "jti": uuid.uuid4().hex,
    }
    return jwt.encode(
        {**registered, **claims}, private_key, algorithm=ALGORITHM, headers={"kid": kid, "typ": token_type}
    )


async def access_token(identity: Identity, user_id: UUID, roles: Sequence[str]) -> str:
    settings = identity.settings
    return await _signed_token(
        identity,
        ACCESS_TOKEN_TYPE,
        audience=settings.jwt_audience,
        subject=str(user_id),
        ttl_seconds=settings.access_token_ttl_seconds,
        roles=list(roles),
    )


def service_client_authenticated(settings: IdentitySettings, client_id: str, client_secret: str) -> bool:
    """Whether the secret is the client's; compared in constant time, unknown clients included."""
    expected = settings.service_clients.get(client_id)
    # An unknown client is compared with a secret of its own so timing tells nothing about which clients exist.
    matches = hmac.compare_digest(
        hashlib.sha256(client_secret.encode()).digest(),
        hashlib.sha256((expected if expected is not None else f"unknown:{client_secret}!").encode()).digest(),
    )
    return expected is not None and matches


async def service_token(identity: Identity, client_id: str, audience: str) -> str:
    """A token for ``client_id`` to call ``audience``: typed ``service+jwt``, so no service mistakes it for a user's."""
    settings = identity.settings
    return await _signed_token(
        identity,
        SERVICE_TOKEN_TYPE,
        audience=service_audience(settings.jwt_audience, audience),
        subject=f"service:{client_id}",
        ttl_seconds=settings.service_token_ttl_seconds,
        client_id=client_id,
    )


def new_refresh_token(identity: Identity, user_id: UUID, family_id: UUID | None = None) -> tuple[str, dict[str, Any]]:
    """A refresh token for the user to hold and the ``refresh_tokens`` row that keeps its hash (for the caller to
    insert, one or many at a time): a new family (a new session) unless ``family_id`` continues one."""
    refresh = opaque_token()
    row = {
        "user_id": user_id,
        "family_id": family_id or uuid.uuid4(),
        "token_hash": token_hash(refresh),
        "expires_at": datetime.now(UTC) + timedelta(days=identity.settings.refresh_token_ttl_days),
    }
    return refresh, row


async def issue_token_pair(
    identity: Identity, session: AsyncSession, user: User, family_id: UUID | None = None
) -> TokenPair:
    refresh, row = new_refresh_token(identity, user.id, family_id)
    session.add(RefreshToken(**row))
    await session.flush()
    return TokenPair(
        access_token=await access_token(identity, user.id, user.role_names),
        refresh_token=refresh,
        expires_in=identity.settings.access_token_ttl_seconds,
    )


class RefreshTokenReusedError(Exception):
    """A rotated or revoked refresh token was presented again: its family has been revoked."""


async def rotate_refresh_token(identity: Identity, session: AsyncSession, presented: str) -> TokenPair:
    row = await session.scalar(
        select(RefreshToken).where(RefreshToken.token_hash == token_hash(presented)).with_for_update()
    )
    if row is None:
        raise Problem(401, "Invalid refresh token", "the refresh token is unknown")
    if row.rotated_at is not None or row.revoked_at is not None:
        await revoke_family(session, row.family_id)
        raise RefreshTokenReusedError
    if row.expires_at <= datetime.now(UTC):
        raise Problem(401, "Invalid refresh token", "the refresh token has expired")
    user = await user_by_id(session, row.user_id)
    if user is None:
        raise Problem(401, "Invalid refresh token", "the account no longer exists")
    row.rotated_at = datetime.now(UTC)
    return await issue_token_pair(identity, session, user, family_id=row.family_id)


async def revoke_family(session: AsyncSession, family_id: UUID) -> None:
    await session.execute(
        update(RefreshToken)
        .where(RefreshToken.family_id == family_id, RefreshToken.revoked_at.is_(None))
        .values(revoked_at=text("now()"))
    )


async def revoke_all_refresh_tokens(session: AsyncSession, user_id: UUID) -> None:
    await session.execute(
        update(RefreshToken)
        .where(RefreshToken.user_id == user_id, RefreshToken.revoked_at.is_(None))
        .values(revoked_at=text("now()"))
    )


async def logout(session: AsyncSession, presented: str) -> UUID | None:
    """Revokes the token's whole family (the session); the user, or None for an unknown token."""
    row = await session.scalar(select(RefreshToken).where(RefreshToken.token_hash == token_hash(presented)))
    if row is None:
        return None
    await revoke_family(session, row.family_id)
    return row.user_id


async def mark_email_verified(session: AsyncSession, outbox: Outbox, user: User) -> None:
    """The address is proven (a mailed code, a provider's word): recorded and announced once."""
    if user.is_email_verified:
        return
    user.is_email_verified = True
    await outbox.add(
        session, events.USER_EMAIL_VERIFIED, events.UserOnly(user_id=user.id), subject_id=user.id, actor_id=user.id
    )


async def set_password_hash(session: AsyncSession, user: User, password_hash: str) -> None:
    """A new password ends every session of the user."""
    user.password_hash = password_hash
    await revoke_all_refresh_tokens(session, user.id)


async def reseal_secrets(identity: Identity, session: AsyncSession) -> int:
    """Every sealed value in the database re-encrypted under the current secret key (after a key rotation)."""
    from parla_identity.keys import private_key_context
    from parla_identity.models import OAuthProvider, SigningKey
    from parla_identity.oauth import provider_token_context

    count = 0
    for key in (await session.scalars(select(SigningKey).with_for_update())).all():
        resealed = identity.box.reseal(key.private_key_encrypted, context=private_key_context(key.kid))
        count += resealed != key.private_key_encrypted
        key.private_key_encrypted = resealed
    for link in (await session.scalars(select(OAuthProvider).with_for_update())).all():
        for column in ("access_token", "refresh_token"):
            sealed = getattr(link, column)
            if sealed is not None:
                context = provider_token_context(f"{link.provider}:{link.provider_user_id}", column)
                resealed = identity.box.reseal(sealed, context=context)
                count += resealed != sealed
                setattr(link, column, resealed)
    await session.flush()
    return count


async def release_connection(session: AsyncSession) -> None:
    """Ends the (read-only so far) transaction, so the pooled connection is free during slow work such as bcrypt;
    the session starts a new transaction on its next statement. Loaded objects stay usable."""
    await session.commit()
