"""Admin create/read/update/delete and listing of one content entity, each change announced with old and new values.

The database enforces the PRD's constraints: a unique violation answers 409, a check or foreign-key violation, or a
value its column cannot hold, 422. Rows are read and listed through an advanced-alchemy repository (filters by
column, limit/offset pagination, the total); deleting a row deletes its children by cascade, and the event names
the row deleted.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from advanced_alchemy.filters import LimitOffset, OrderBy
from advanced_alchemy.repository import SQLAlchemyAsyncRepository
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError, IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession
from uuid_utils.compat import uuid7

from parla_curriculum.clients.media import MediaStorage
from parla_curriculum.models import UUIDv7Base, column_values
from parla_curriculum.use_cases.content_changes import publish_change
from parla_curriculum.use_cases.content_checks import Validator, attribute_name
from parla_shared.events.outbox import Outbox
from parla_shared.problems import Problem

_SQLSTATE_PROBLEMS = {
    "23505": (409, "Conflict", "another row already has these unique values"),
    "23503": (422, "Unknown reference", "a referenced row does not exist (or other rows still refer to this one)"),
    "23514": (422, "Constraint violated", "a value breaks a rule of the table"),
    "23502": (422, "Missing value", "a required value is missing"),
}


def _problem_for(exc: IntegrityError) -> Problem:
    sqlstate = getattr(exc.orig, "sqlstate", None) or getattr(exc.orig, "pgcode", None)
    status, title, explanation = _SQLSTATE_PROBLEMS.get(str(sqlstate), (422, "Rejected", "the change is invalid"))
    constraint = getattr(getattr(exc.orig, "__cause__", None), "constraint_name", None)
    return Problem(status, title, f"{explanation}" + (f" ({constraint})" if constraint else "") + ".")


async def _flush(session: AsyncSession) -> None:
    try:
        # Deferred uniques (sort orders) are checked now, so a clash is a 409 rather than a failed commit.
        await session.execute(text("SET CONSTRAINTS ALL IMMEDIATE"))
        await session.flush()
    except IntegrityError as exc:
        raise _problem_for(exc) from None
    except DBAPIError as exc:
        # SQLSTATE class 22 (data exception): a value its column cannot hold (too long, out of range); asyncpg
        # raises one too for a parameter it cannot send (an integer beyond int32).
        if not str(getattr(exc.orig, "sqlstate", None)).startswith("22"):
            raise
        raise Problem(422, "Invalid value", f"A value does not fit its column: {exc.orig}.") from None


@dataclass
class EntityAdmin:
    """The admin use cases of one content entity (``entity`` as events and problems name it)."""

    entity: str
    model: type[UUIDv7Base]
    validate: Validator | None = None
    new_id: Callable[[], uuid.UUID] = uuid7
    _repository: type[SQLAlchemyAsyncRepository[UUIDv7Base]] = field(init=False, repr=False)

    def __post_init__(self) -> None:
        self._repository = type(
            f"{self.model.__name__}Repository", (SQLAlchemyAsyncRepository,), {"model_type": self.model}
        )

    def repository(self, session: AsyncSession) -> SQLAlchemyAsyncRepository[UUIDv7Base]:
        return self._repository(session=session)

    async def load(self, session: AsyncSession, row_id: uuid.UUID) -> UUIDv7Base:
        row = await self.repository(session).get_one_or_none(id=row_id)
        if row is None:
            raise Problem(404, "Not found", f"No {self.entity.replace('_', ' ')} has the id {row_id}.")
        return row

    async def page(
        self, session: AsyncSession, where: Mapping[str, Any], limit: int, offset: int
    ) -> tuple[Sequence[UUIDv7Base], int]:
        """The rows whose columns equal ``where`` (None means any), oldest first (ids are time-ordered), and how
        many match in all."""
        columns = {name: value for name, value in where.items() if value is not None}
        return await self.repository(session).list_and_count(
            LimitOffset(limit=limit, offset=offset), OrderBy("id", "asc"), **columns
        )

    async def create(
        self, session: AsyncSession, outbox: Outbox, media: MediaStorage, values: dict[str, Any]
    ) -> UUIDv7Base:
        if self.validate is not None:
            await self.validate(session, media, values, None)
        row = self.model(id=self.new_id(), **{attribute_name(name): value for name, value in values.items()})
        session.add(row)
        await _flush(session)
        await publish_change(session, outbox, row, "created", None)
        return row

    async def update(
        self, session: AsyncSession, outbox: Outbox, media: MediaStorage, row_id: uuid.UUID, values: dict[str, Any]
    ) -> tuple[UUIDv7Base, bool]:
        """The row after the change, and whether anything changed (only then is it announced)."""
        row = await self.load(session, row_id)
        if self.validate is not None:
            await self.validate(session, media, values, row)
        old = column_values(row)
        changed = {name: value for name, value in values.items() if getattr(row, attribute_name(name)) != value}
        if changed:
            for name, value in changed.items():
                setattr(row, attribute_name(name), value)
            await _flush(session)
            if "updated_at" in old:
                await session.refresh(row, ["updated_at"])
            await publish_change(session, outbox, row, "updated", old)
        return row, bool(changed)

    async def delete(self, session: AsyncSession, outbox: Outbox, row_id: uuid.UUID) -> None:
        row = await self.load(session, row_id)
        old = column_values(row)
        await session.delete(row)
        await _flush(session)
        await publish_change(session, outbox, row, "deleted", old)
