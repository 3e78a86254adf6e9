"""The learner row: the lock every state-changing use case takes first.

Every state-changing use case locks the learner row first (``SELECT … FOR UPDATE`` on the learner projection,
created on the spot when identity's event has not arrived yet), and only then reads and writes that learner's
other rows. One lock, always taken first, serialises a learner's concurrent requests: no lost update, hearts
never below zero, nothing awarded twice, and no lock-order cycle (so no deadlock). Calls to curriculum happen
before the lock, so the lock is held only for the database work.
"""

from __future__ import annotations

from uuid import UUID

import asyncpg

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
