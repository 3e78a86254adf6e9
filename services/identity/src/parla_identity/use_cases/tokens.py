"""Access, service and refresh tokens."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from typing import Any
from uuid import UUID

import jwt
from sqlalchemy import select, text, update
from sqlalchemy.ext.asyncio import AsyncSession

from parla_identity.api.schemas import TokenPair
from parla_identity.crypto import opaque_token, token_hash
from parla_identity.keys import ALGORITHM
from parla_identity.models import RefreshToken, User
from parla_identity.use_cases.context import Identity
from parla_shared.auth import ACCESS_TOKEN_TYPE, SERVICE_TOKEN_TYPE, service_audience
from parla_shared.problems import Problem


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
    user = await session.get(User, row.user_id, populate_existing=True)
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
