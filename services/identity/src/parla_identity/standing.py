"""Identity answers for accounts from its own tables (the other services ask it over HTTP)."""

from __future__ import annotations

from collections.abc import Callable
from uuid import UUID

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession

from parla_shared.db import SET_SYSTEM_PATH, SystemPath
from parla_shared.standing import DELETED_ACCOUNTS_CHANNEL


async def record_deleted_account(session: AsyncSession, user_id: UUID) -> None:
    """In the deleting transaction: kept until its tokens expire, and announced to every listening service as it
    commits (NOTIFY is delivered on commit only)."""
    await session.execute(
        text("INSERT INTO identity.deleted_accounts (user_id) VALUES (:user_id) ON CONFLICT (user_id) DO NOTHING"),
        {"user_id": user_id},
    )
    await session.execute(
        text("SELECT pg_notify(:channel, :user_id)"), {"channel": DELETED_ACCOUNTS_CHANNEL, "user_id": str(user_id)}
    )


async def current_roles(session: AsyncSession, user_id: UUID) -> tuple[str, ...] | None:
    exists = await session.scalar(text("SELECT 1 FROM identity.users WHERE id = :id"), {"id": user_id})
    if exists is None:
        return None
    roles = await session.scalars(
        text("SELECT role FROM identity.user_roles WHERE user_id = :id ORDER BY role"), {"id": user_id}
    )
    return tuple(roles)


async def recently_deleted(session: AsyncSession) -> set[UUID]:
    return set((await session.scalars(text("SELECT user_id FROM identity.deleted_accounts"))).all())


class DatabaseStanding:
    """``parla_shared.auth.AccountStanding`` read from identity's own tables."""

    def __init__(self, engine: Callable[[], AsyncEngine]) -> None:
        self._engine = engine

    async def roles_of(self, user_id: UUID) -> tuple[str, ...] | None:
        async with AsyncSession(self._engine()) as session, session.begin():
            # The admin check reads the caller's account as the admin path does (row-level security).
            await session.execute(SET_SYSTEM_PATH, {"path": SystemPath.ADMIN.value})
            return await current_roles(session, user_id)

    async def deleted_accounts(self) -> set[UUID]:
        async with AsyncSession(self._engine()) as session:
            return await recently_deleted(session)
