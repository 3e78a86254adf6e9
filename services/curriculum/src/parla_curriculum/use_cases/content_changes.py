"""Content rows changed by an import or the admin API, each announced as
``parla.curriculum.<entity>.created|updated|deleted`` with its old and new column values."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from parla_curriculum import events
from parla_curriculum.models import (
    ENTITIES,
    UUIDv7Base,
    column_values,
)
from parla_shared.events.outbox import Outbox

_ENTITY_OF = {model: entity for entity, model in ENTITIES.items()}
# Never in an event's old/new: maintained by the database, not content.
_UNTRACKED = {"created_at", "updated_at"}


@dataclass
class ContentChanges:
    """The rows an import touched, turned into events once the database has filled every column."""

    created: list[UUIDv7Base] = field(default_factory=list)
    updated: list[tuple[UUIDv7Base, dict[str, Any]]] = field(default_factory=list)
    deleted: list[tuple[UUIDv7Base, dict[str, Any]]] = field(default_factory=list)

    def apply(self, row: UUIDv7Base, values: dict[str, Any]) -> None:
        """Set the values that differ; remember the old values when anything changed."""
        changed = {name: value for name, value in values.items() if getattr(row, name) != value}
        if not changed:
            return
        before = column_values(row)
        for name, value in changed.items():
            setattr(row, name, value)
        self.updated.append((row, before))

    def remove(self, row: UUIDv7Base) -> None:
        self.deleted.append((row, column_values(row)))


def _event_values(values: dict[str, Any]) -> dict[str, Any]:
    return {name: value for name, value in values.items() if name not in _UNTRACKED}


async def publish_change(
    session: AsyncSession, outbox: Outbox, row: UUIDv7Base, action: str, old: dict[str, Any] | None
) -> None:
    """``parla.curriculum.<entity>.<action>`` with the row's old and new column values."""
    entity = _ENTITY_OF[type(row)]
    new = None if action == "deleted" else _event_values(column_values(row))
    await outbox.add(
        session,
        events.content_change_type(entity, action),
        events.ContentChanged(entity=entity, id=row.id, old=None if old is None else _event_values(old), new=new),
        subject_id=row.id,
    )
