"""Mailed one-time codes: email verification and password reset."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from uuid import UUID

from sqlalchemy import select, text, update
from sqlalchemy.ext.asyncio import AsyncSession

from parla_identity.crypto import opaque_token, token_hash
from parla_identity.models import UserToken
from parla_shared.problems import Problem

EMAIL_VERIFICATION = "email_verification"
PASSWORD_RESET = "password_reset"  # noqa: S105 - a token purpose


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
