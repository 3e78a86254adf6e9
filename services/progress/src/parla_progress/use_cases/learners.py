"""The learner row: the lock every state-changing use case takes first, the hearts and streak it holds, and
identity's events about learners (their settings, their erasure).

Every state-changing use case locks the learner row first (``SELECT … FOR UPDATE`` on the learner projection,
created on the spot when identity's event has not arrived yet), and only then reads and writes that learner's
other rows. One lock, always taken first, serialises a learner's concurrent requests: no lost update, hearts
never below zero, nothing awarded twice, and no lock-order cycle (so no deadlock). Calls to curriculum happen
before the lock, so the lock is held only for the database work.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any
from uuid import UUID

import asyncpg
from sqlalchemy import delete, select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from parla_progress import events
from parla_progress.domain.hearts import HeartsChange, HeartsState
from parla_progress.domain.streaks import StreakState
from parla_progress.models import USER_TABLES, ErasedUser, Learner
from parla_shared.events.envelope import EventEnvelope
from parla_shared.events.outbox import Outbox
from parla_shared.problems import Problem

LOCK = "SELECT * FROM learners WHERE user_id = $1 FOR UPDATE"


async def lock_learner_row(driver: asyncpg.Connection, user_id: UUID) -> asyncpg.Record:
    """The learner row, locked for this transaction; created with defaults when it does not exist yet."""
    learner = await driver.fetchrow(LOCK, user_id)
    if learner is None:
        # Identity's event has not arrived yet: defaults now, its values when it comes (consumers.py).
        await driver.execute("INSERT INTO learners (user_id) VALUES ($1) ON CONFLICT DO NOTHING", user_id)
        # Checked only after the insert, which waits for an erasure holding this key (erase_learner): by then
        # its erased_users row is committed and visible to this new statement.
        if await driver.fetchval("SELECT 1 FROM erased_users WHERE user_id = $1", user_id) is not None:
            raise Problem(401, "Account deleted", "this account has been deleted")
        learner = await driver.fetchrow(LOCK, user_id)
    return learner


def hearts_of(learner: asyncpg.Record) -> HeartsState:
    """The hearts as the learner row stores them."""
    return HeartsState(hearts=learner["hearts"], hearts_refill_anchor=learner["hearts_refill_anchor"])


def streak_of(learner: asyncpg.Record) -> StreakState:
    """The streak and its freezes as the learner row stores them."""
    return StreakState(
        current_streak=learner["current_streak"],
        longest_streak=learner["longest_streak"],
        last_active_local_date=learner["last_active_local_date"],
        streak_survives_until=learner["streak_survives_until"],
        freezes=learner["streak_freezes"],
    )


def hearts_changed_events(outbox: Outbox, user_id: UUID, changes: Iterable[HeartsChange]) -> list[EventEnvelope]:
    """One ``HeartsChanged`` event per change of the learner's hearts, in the order they happened."""
    return [
        outbox.event(
            events.HEARTS_CHANGED,
            events.HeartsChanged(
                user_id=user_id,
                action=change.action,
                hearts_before=change.hearts_before,
                hearts_after=change.hearts_after,
                reason=change.reason,
            ),
            subject_id=user_id,
        )
        for change in changes
    ]


async def erase_learner(session: AsyncSession, user_id: UUID) -> None:
    """Hard delete of everything progress holds about a user (FR-5)."""
    # A first request may have inserted the learner row without committing it yet; FOR UPDATE cannot see (nor
    # wait for) that row, but this insert waits on its key until that request ends, so its rows get deleted too.
    await session.execute(insert(Learner).values(user_id=user_id).on_conflict_do_nothing())
    await session.execute(select(Learner.user_id).where(Learner.user_id == user_id).with_for_update())
    await session.execute(insert(ErasedUser).values(user_id=user_id).on_conflict_do_nothing())
    for model in USER_TABLES:
        await session.execute(delete(model).where(model.user_id == user_id))  # type: ignore[attr-defined]


async def upsert_learner(session: AsyncSession, user_id: UUID, timezone: str | None, goal: int | None) -> None:
    """Identity's current timezone and goal for a learner, whether or not the row exists yet."""
    if await session.get(ErasedUser, user_id) is not None:
        return  # an event delivered after the user's deletion
    values: dict[str, Any] = {}
    if timezone is not None:
        values["timezone"] = timezone
    if goal is not None:
        values["daily_xp_goal"] = goal
    statement = insert(Learner).values(user_id=user_id, **values)
    statement = (
        statement.on_conflict_do_update(index_elements=[Learner.user_id], set_=values)
        if values
        else statement.on_conflict_do_nothing()
    )
    await session.execute(statement)
