"""Accounts: finding, creating and changing them, and announcing what their owners do with them."""

from __future__ import annotations

from collections.abc import Sequence
from uuid import UUID

import msgspec
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from parla_identity import events
from parla_identity.domain.accounts import valid_email, valid_password
from parla_identity.domain.passwords import hash_password
from parla_identity.models import User, UserRole
from parla_identity.use_cases.context import Identity
from parla_identity.use_cases.tokens import revoke_all_refresh_tokens
from parla_shared.context import request_context
from parla_shared.contracts.identity import DEFAULT_DAILY_XP_GOAL
from parla_shared.events.envelope import ENVELOPE_VERSION
from parla_shared.events.outbox import Outbox


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
    daily_xp_goal: int = DEFAULT_DAILY_XP_GOAL,
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


async def mark_email_verified(session: AsyncSession, outbox: Outbox, user: User) -> None:
    """The address is proven (a mailed code, a provider's word): recorded and announced once."""
    if user.is_email_verified:
        return
    user.is_email_verified = True
    await announce(session, outbox, user.id, events.USER_EMAIL_VERIFIED, events.UserOnly(user_id=user.id))


async def announce(
    session: AsyncSession,
    outbox: Outbox,
    user_id: UUID,
    event_type: str,
    data: msgspec.Struct,
    *,
    version: int = ENVELOPE_VERSION,
) -> None:
    """An event of what users did to their own account: the user is both its subject and its actor."""
    await outbox.add(session, event_type, data, subject_id=user_id, actor_id=user_id, version=version)


async def announce_registration(session: AsyncSession, outbox: Outbox, user: User, method: str) -> None:
    """``user.registered`` (``method``: password or the provider), with the settings other contexts start from."""
    registered = events.UserRegistered(
        user_id=user.id, timezone=user.timezone, daily_xp_goal=user.daily_xp_goal, method=method
    )
    await announce(session, outbox, user.id, events.USER_REGISTERED, registered, version=events.PERSONAL_DATA_VERSION)


async def announce_login(session: AsyncSession, outbox: Outbox, user: User, method: str) -> None:
    """``user.logged_in`` (``method``: password or the provider) from the request's address and user agent."""
    context = request_context.get()
    logged_in = events.UserLoggedIn(user_id=user.id, method=method, ip=context.ip, user_agent=context.user_agent)
    await announce(session, outbox, user.id, events.USER_LOGGED_IN, logged_in)


async def set_password_hash(session: AsyncSession, user: User, password_hash: str) -> None:
    """A new password ends every session of the user."""
    user.password_hash = password_hash
    await revoke_all_refresh_tokens(session, user.id)


async def reseal_secrets(identity: Identity, session: AsyncSession) -> int:
    """Every sealed value in the database re-encrypted under the current secret key (after a key rotation)."""
    from parla_identity.clients.oauth_providers import provider_token_context
    from parla_identity.keys import private_key_context
    from parla_identity.models import OAuthProvider, SigningKey

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
