"""The content schema enforces the PRD's rules in the database itself (constraints, triggers, indexes, seeds)."""

from __future__ import annotations

import asyncpg
import pytest

from parla_curriculum.use_cases.course_import import ImportResult


async def test_seeded_languages_and_exercise_types(db: asyncpg.Connection) -> None:
    languages = await db.fetch(
        "SELECT code, name, native_name, sort_order FROM languages WHERE sort_order > 0 ORDER BY sort_order"
    )
    assert [tuple(row) for row in languages][:6] == [
        ("en", "English", "English", 1),
        ("es", "Spanish", "Español", 2),
        ("fr", "French", "Français", 3),
        ("de", "German", "Deutsch", 4),
        ("it", "Italian", "Italiano", 5),
        ("pt", "Portuguese", "Português", 6),
    ]
    types = {row["name"]: row["is_active"] for row in await db.fetch("SELECT name, is_active FROM exercise_types")}
    assert types == {
        "translation": True,
        "multiple_choice": True,
        "listening": True,
        "speaking": False,
        "writing": False,
    }


async def test_prd_indexes_exist(db: asyncpg.Connection) -> None:
    names = {
        row["indexname"] for row in await db.fetch("SELECT indexname FROM pg_indexes WHERE schemaname = 'curriculum'")
    }
    assert {
        "idx_courses_from_language",
        "idx_courses_to_language",
        "idx_sections_course_id",
        "idx_sections_sort_order",
        "idx_units_section_id",
        "idx_units_sort_order",
        "idx_lessons_unit_id",
        "idx_lessons_sort_order",
        "idx_exercises_type",
        "idx_exercises_difficulty",
        "idx_lesson_exercises_lesson_id",
        "idx_lesson_exercises_exercise_id",
        "idx_exercise_options_exercise_id",
        "idx_audio_files_exercise_id",
        "idx_audio_files_quality",
    } <= names


async def test_updated_at_trigger_and_content_revision(db: asyncpg.Connection, shipped_course: ImportResult) -> None:
    transaction = db.transaction()
    await transaction.start()
    try:
        revision = await db.fetchval("SELECT revision FROM content_revision")
        before = await db.fetchval("SELECT updated_at FROM courses WHERE id = $1", shipped_course.course_id)
        after = await db.fetchval(
            "UPDATE courses SET name = name || '!' WHERE id = $1 RETURNING updated_at", shipped_course.course_id
        )
        assert after > before
        assert await db.fetchval("SELECT revision FROM content_revision") == revision + 1
    finally:
        await transaction.rollback()


@pytest.mark.parametrize(
    ("statement", "error"),
    [
        ("UPDATE exercises SET difficulty_level = 6 WHERE key = 'greetings-1-hello'", asyncpg.CheckViolationError),
        ("UPDATE lessons SET xp_reward = -1 WHERE key = 'greetings-1'", asyncpg.CheckViolationError),
        ("UPDATE units SET color = 'green' WHERE key = 'greetings'", asyncpg.CheckViolationError),
        ("UPDATE sections SET cefr_level = 'D1' WHERE key = 'a1'", asyncpg.CheckViolationError),
        ("UPDATE audio_files SET file_format = 'flac'", asyncpg.CheckViolationError),
        ("UPDATE audio_files SET quality_level = 'ultra'", asyncpg.CheckViolationError),
        ("UPDATE courses SET difficulty_level = 'expert'", asyncpg.CheckViolationError),
        ("UPDATE courses SET to_language_id = from_language_id", asyncpg.CheckViolationError),
        (
            "INSERT INTO lesson_prerequisites (lesson_id, prerequisite_lesson_id)"
            " SELECT id, id FROM lessons WHERE key = 'greetings-1'",
            asyncpg.CheckViolationError,
        ),
        ("INSERT INTO languages (code, name) VALUES ('es', 'Spanish again')", asyncpg.UniqueViolationError),
        ("INSERT INTO exercise_types (name) VALUES ('translation')", asyncpg.UniqueViolationError),
        (
            "UPDATE exercises SET key = 'greetings-1-hello' WHERE key = 'greetings-1-please'",
            asyncpg.UniqueViolationError,
        ),
        (
            "INSERT INTO lesson_exercises (lesson_id, exercise_id, sort_order) SELECT lesson_id, exercise_id, 99"
            " FROM lesson_exercises LIMIT 1",
            asyncpg.UniqueViolationError,
        ),
        (
            "INSERT INTO audio_files (exercise_id, file_path, file_format, quality_level) SELECT exercise_id, 'x',"
            " file_format, quality_level FROM audio_files LIMIT 1",
            asyncpg.UniqueViolationError,
        ),
        ("UPDATE exercises SET alternative_answers = '{\"a\": 1}'", asyncpg.CheckViolationError),
        ("UPDATE exercises SET prompt = NULL", asyncpg.NotNullViolationError),
        ("UPDATE sections SET course_id = gen_random_uuid()", asyncpg.ForeignKeyViolationError),
    ],
)
async def test_constraints_reject_bad_rows(
    db: asyncpg.Connection, shipped_course: ImportResult, statement: str, error: type[Exception]
) -> None:
    with pytest.raises(error):
        async with db.transaction():
            await db.execute(statement)


async def test_deferred_sort_order_uniques_allow_a_swap_but_not_a_clash(
    db: asyncpg.Connection, shipped_course: ImportResult
) -> None:
    transaction = db.transaction()
    await transaction.start()
    try:
        await db.execute("UPDATE lessons SET sort_order = 1 WHERE key = 'greetings-1'")
        await db.execute("UPDATE lessons SET sort_order = 0 WHERE key = 'greetings-2'")
        await db.execute("SET CONSTRAINTS ALL IMMEDIATE")  # checked now: the swap is consistent
    finally:
        await transaction.rollback()
    with pytest.raises(asyncpg.UniqueViolationError):
        async with db.transaction():  # checked at commit
            await db.execute("UPDATE lessons SET sort_order = 1 WHERE key = 'greetings-1'")


async def test_deleting_a_course_cascades_to_its_content(db: asyncpg.Connection, shipped_course: ImportResult) -> None:
    tr = db.transaction()
    await tr.start()
    try:
        await db.execute("DELETE FROM courses WHERE id = $1", shipped_course.course_id)
        for table in ("sections", "exercises"):
            assert (
                await db.fetchval(
                    f"SELECT count(*) FROM {table} WHERE course_id = $1",  # noqa: S608
                    shipped_course.course_id,
                )
                == 0
            )
        assert (
            await db.fetchval(
                "SELECT count(*) FROM lessons l JOIN units u ON u.id = l.unit_id JOIN sections s ON s.id = u.section_id"
                " WHERE s.course_id = $1",
                shipped_course.course_id,
            )
            == 0
        )
    finally:
        await tr.rollback()
