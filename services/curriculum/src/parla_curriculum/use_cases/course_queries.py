"""What the course reads, export, import and admin checks ask alike: a course with its languages' codes, the units
and lessons of a course, a course's outline in order, and rows listed under the row they belong to."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Collection, Iterable
from typing import Any, TypeVar
from uuid import UUID

from sqlalchemy import ColumnElement, Select, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import aliased

from parla_curriculum.models import Course, Language, Lesson, Section, Unit, UUIDv7Base

QueryT = TypeVar("QueryT", bound=Select[Any])
RowT = TypeVar("RowT")
ModelT = TypeVar("ModelT", bound=UUIDv7Base)
ParentT = TypeVar("ParentT")


def course_with_language_codes() -> tuple[Select[Course, str, str], type[Language], type[Language]]:
    """Courses with the codes of the language taught from and of the one learned, and the two aliases of
    ``Language`` those codes come from (to filter on them)."""
    source, target = aliased(Language), aliased(Language)
    query = (
        select(Course, source.code, target.code)
        .join(source, source.id == Course.from_language_id)
        .join(target, target.id == Course.to_language_id)
    )
    return query, source, target


def in_course(query: QueryT, level: type[Unit | Lesson], course_id: UUID | None) -> QueryT:
    """``query`` over units or lessons (``level``), narrowed to those of one course."""
    if level is Lesson:
        query = query.join(Unit, Unit.id == Lesson.unit_id)
    return query.join(Section, Section.id == Unit.section_id).where(Section.course_id == course_id)


async def course_outline(
    session: AsyncSession, course_id: UUID, *, active_only: bool
) -> tuple[list[Section], list[Unit], list[Lesson]]:
    """The course's sections, units and lessons, each level in its order; with ``active_only`` the active rows of
    each level (a tree built from them leaves out what sits under an inactive parent)."""

    def ordered(query: QueryT, level: type[Section | Unit | Lesson]) -> QueryT:
        if active_only:
            query = query.where(level.is_active.is_(True))
        return query.order_by(level.sort_order)

    sections = await session.scalars(ordered(select(Section).where(Section.course_id == course_id), Section))
    units = await session.scalars(ordered(in_course(select(Unit), Unit, course_id), Unit))
    lessons = await session.scalars(ordered(in_course(select(Lesson), Lesson, course_id), Lesson))
    return list(sections), list(units), list(lessons)


def grouped(rows: Iterable[RowT], parent: Callable[[RowT], ParentT]) -> dict[ParentT, list[RowT]]:
    """``rows`` listed under their parent, each list in the rows' order (a tree built from one query per level)."""
    groups: dict[ParentT, list[RowT]] = defaultdict(list)
    for row in rows:
        groups[parent(row)].append(row)
    return groups


async def rows_under(
    session: AsyncSession,
    model: type[ModelT],
    parent: str,
    parent_ids: Collection[UUID],
    *criteria: ColumnElement[bool],
    order_by: tuple[Any, ...] = (),
) -> dict[UUID, list[ModelT]]:
    """The ``model`` rows whose ``parent`` column is one of ``parent_ids`` (and that meet ``criteria``), listed
    under it in ``order_by`` order; no query at all when there is no parent."""
    if not parent_ids:
        return {}
    query = select(model).where(getattr(model, parent).in_(list(parent_ids)), *criteria).order_by(*order_by)
    return grouped(await session.scalars(query), lambda row: getattr(row, parent))
