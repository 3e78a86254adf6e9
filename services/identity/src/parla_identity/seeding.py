"""Load-test learners in bulk: verified accounts that already hold a refresh token, as returning app users do.

Registration through the API costs a bcrypt hash per account (cost 12 ≈ 0.25 s of CPU); a load test of 1,000
learners — or a data set of 10,000 — must not spend its time there. Every seeded account shares one hash,
computed once, of the same password, so the accounts can also log in normally. Each one is announced with the
events a registration and a verified address produce (``user.registered``, ``user.email_verified``), written to
the outbox in bulk, so progress and analytics learn of them as of any other user. Refresh tokens are issued
with identity's own token code (``tokens.new_refresh_token``): a fresh session for every account on every run,
since a load test rotates (and so uses up) the tokens it was given.
"""

from __future__ import annotations

import re
import uuid
from dataclasses import dataclass
from uuid import UUID

from sqlalchemy import func, insert, select
from sqlalchemy.ext.asyncio import AsyncSession

from parla_identity import events
from parla_identity.domain.passwords import hash_password
from parla_identity.models import ADMIN_ROLE, RefreshToken, User, UserRole
from parla_identity.use_cases import tokens
from parla_identity.use_cases.context import Identity
from parla_shared.contracts.identity import DAILY_XP_GOALS
from parla_shared.events.envelope import EventEnvelope
from parla_shared.events.outbox import Outbox
from parla_shared.problems import Problem, invalid_field

SEED_DOMAIN = "load.parla.test"
SEED_PASSWORD = "Learner-pass1"  # noqa: S105 - documented password of the seeded load-test accounts
MAX_SEEDED = 1_000_000
_TIMEZONES = ("Europe/Madrid", "America/New_York", "UTC", "Asia/Tokyo", "America/Sao_Paulo")
_SEEDED_EMAIL = re.compile(rf"^(learner|admin)-(\d+)@{re.escape(SEED_DOMAIN)}$")


@dataclass(frozen=True)
class SeededAccount:
    email: str
    user_id: UUID
    refresh_token: str


@dataclass(frozen=True)
class SeedResult:
    learners: list[SeededAccount]
    admins: list[SeededAccount]
    created: int


def seeded_email(kind: str, number: int) -> str:
    return f"{kind}-{number:06d}@{SEED_DOMAIN}"


async def seed_learners(
    identity: Identity, session: AsyncSession, outbox: Outbox, learners: int, admins: int = 0
) -> SeedResult:
    """``learner-000001@load.parla.test`` … and ``admin-000001@…`` (role admin) exist afterwards, each with a
    new refresh token; accounts made by an earlier run are reused. One transaction: all or nothing."""
    if identity.settings.environment == "production":
        raise Problem(409, "Not in production", "load-test accounts are never seeded into a production database")
    if not 0 < learners <= MAX_SEEDED or not 0 <= admins <= MAX_SEEDED:
        raise invalid_field("count", f"learners must be 1 to {MAX_SEEDED}, admins 0 to {MAX_SEEDED}")
    wanted = [("learner", n) for n in range(1, learners + 1)] + [("admin", n) for n in range(1, admins + 1)]
    existing = await _existing_seeded(session)
    missing = [(kind, n) for kind, n in wanted if seeded_email(kind, n) not in existing]
    if missing:
        await _create_accounts(identity, session, outbox, missing, existing)
    issued = [tokens.new_refresh_token(identity, existing[seeded_email(kind, n)]) for kind, n in wanted]
    await session.execute(insert(RefreshToken), [row for _, row in issued])
    accounts = [
        SeededAccount(email=seeded_email(kind, n), user_id=row["user_id"], refresh_token=refresh)
        for (kind, n), (refresh, row) in zip(wanted, issued, strict=True)
    ]
    return SeedResult(learners=accounts[:learners], admins=accounts[learners:], created=len(missing))


async def _existing_seeded(session: AsyncSession) -> dict[str, UUID]:
    rows = await session.execute(
        select(func.lower(User.email), User.id).where(func.lower(User.email).like(f"%@{SEED_DOMAIN}"))
    )
    return {email: user_id for email, user_id in rows.all() if _SEEDED_EMAIL.match(email)}


async def _create_accounts(
    identity: Identity,
    session: AsyncSession,
    outbox: Outbox,
    missing: list[tuple[str, int]],
    existing: dict[str, UUID],
) -> None:
    shared_hash = await hash_password(SEED_PASSWORD, identity.settings.bcrypt_rounds)  # once for all of them
    users: list[dict[str, object]] = []
    roles: list[dict[str, object]] = []
    announced: list[EventEnvelope] = []
    for kind, n in missing:
        user_id, email, name = uuid.uuid4(), seeded_email(kind, n), f"{kind.capitalize()} {n}"
        timezone, goal = _TIMEZONES[n % len(_TIMEZONES)], DAILY_XP_GOALS[n % len(DAILY_XP_GOALS)]
        existing[email] = user_id
        users.append(
            {
                "id": user_id,
                "email": email,
                "name": name,
                "password_hash": shared_hash,
                "is_email_verified": True,
                "timezone": timezone,
                "daily_xp_goal": goal,
            }
        )
        if kind == "admin":
            roles.append({"user_id": user_id, "role": ADMIN_ROLE})
        registered = events.UserRegistered(user_id=user_id, timezone=timezone, daily_xp_goal=goal, method="password")
        announced.append(
            outbox.event(
                events.USER_REGISTERED,
                registered,
                subject_id=user_id,
                actor_id=user_id,
                version=events.PERSONAL_DATA_VERSION,
            )
        )
        verified = events.UserOnly(user_id=user_id)
        announced.append(outbox.event(events.USER_EMAIL_VERIFIED, verified, subject_id=user_id, actor_id=user_id))
    await session.execute(insert(User), users)
    if roles:
        await session.execute(insert(UserRole), roles)
    await outbox.add_all(session, announced)
