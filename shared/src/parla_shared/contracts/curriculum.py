"""The events curriculum publishes (stream ``PARLA_CURRICULUM``): every change to content is an administrator's
(an import, the admin API), announced with the row's old and new column values (FR-22)."""

from __future__ import annotations

from typing import Any, Final
from uuid import UUID

import msgspec

from parla_shared.contracts import EventContract

# The content entities, as events name them (curriculum's ``models.ENTITIES`` maps each to its table).
CONTENT_ENTITIES: Final = (
    "language",
    "course",
    "section",
    "unit",
    "lesson",
    "lesson_prerequisite",
    "exercise",
    "exercise_option",
    "lesson_exercise",
    "audio_file",
)
CONTENT_ACTIONS: Final = ("created", "updated", "deleted")
CONTENT_CHANGED: Final = "parla.curriculum.{entity}.{action}"
COURSE_IMPORTED: Final = "parla.curriculum.course.imported"


def content_change_type(entity: str, action: str) -> str:
    """``parla.curriculum.<entity>.<created|updated|deleted>``."""
    return CONTENT_CHANGED.format(entity=entity, action=action)


class ContentChanged(msgspec.Struct, frozen=True):
    """A content row created, updated or deleted: ``old`` is null on create, ``new`` null on delete (column values);
    ``id`` is null for a row without a single id."""

    entity: str
    id: UUID | None
    old: dict[str, Any] | None
    new: dict[str, Any] | None


class CourseImported(msgspec.Struct, frozen=True):
    """A course document imported: how many rows it created, updated and deleted."""

    course_id: UUID
    key: str
    created: int
    updated: int
    deleted: int


_ENTITIES = ", ".join(CONTENT_ENTITIES)
CONTRACTS = [
    EventContract(
        CONTENT_CHANGED,
        ContentChanged,
        f"a content row changed; entity is one of {_ENTITIES}, action one of {', '.join(CONTENT_ACTIONS)}",
        ("analytics (audit, FR-22)",),
    ),
    EventContract(COURSE_IMPORTED, CourseImported, "a course document was imported", ("analytics (audit)",)),
]
