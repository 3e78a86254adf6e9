"""Course content (PRD FR-6..FR-10, FR-16..FR-18): languages → courses → sections → units → lessons → exercises,
with prerequisites, options, lesson placements, audio files, stable keys and a content revision counter.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-25
"""

from collections.abc import Sequence

from alembic import op

from parla_shared.migrations import add_updated_at_trigger

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

S = "curriculum"
KEY_CHECK = r"~ '^[a-z0-9]+(-[a-z0-9]+)*$'"

CONTENT_TABLES = (
    "languages",
    "courses",
    "sections",
    "units",
    "lessons",
    "lesson_prerequisites",
    "exercise_types",
    "exercises",
    "exercise_options",
    "lesson_exercises",
    "audio_files",
)
UPDATED_AT_TABLES = ("languages", "courses", "sections", "units", "lessons", "exercises", "audio_files")

TABLES_DDL = [
    f"""
    CREATE TABLE {S}.languages (
        id UUID PRIMARY KEY DEFAULT gen_random_uuid(),
        code VARCHAR(10) NOT NULL UNIQUE CHECK (code ~ '^[a-z]{{2,3}}(-[A-Za-z0-9]+)?$'),
        name VARCHAR(100) NOT NULL,
        native_name VARCHAR(100),
        flag_url VARCHAR(500),
        is_active BOOLEAN NOT NULL DEFAULT TRUE,
        sort_order INTEGER NOT NULL DEFAULT 0,
        created_at TIMESTAMPTZ NOT NULL DEFAULT now(),
        updated_at TIMESTAMPTZ NOT NULL DEFAULT now()
    )
    """,
    f"""
    CREATE TABLE {S}.courses (
        id UUID PRIMARY KEY DEFAULT gen_random_uuid(),
        key VARCHAR(100) NOT NULL UNIQUE CHECK (key {KEY_CHECK}),
        from_language_id UUID NOT NULL REFERENCES {S}.languages(id),
        to_language_id UUID NOT NULL REFERENCES {S}.languages(id),
        name VARCHAR(255) NOT NULL,
        description TEXT,
        difficulty_level VARCHAR(20) NOT NULL DEFAULT 'beginner'
            CHECK (difficulty_level IN ('beginner', 'intermediate', 'advanced')),
        is_active BOOLEAN NOT NULL DEFAULT TRUE,
        sort_order INTEGER NOT NULL DEFAULT 0,
        created_at TIMESTAMPTZ NOT NULL DEFAULT now(),
        updated_at TIMESTAMPTZ NOT NULL DEFAULT now(),
        UNIQUE (from_language_id, to_language_id),
        CHECK (from_language_id <> to_language_id)
    )
    """,
    f"""
    CREATE TABLE {S}.sections (
        id UUID PRIMARY KEY DEFAULT gen_random_uuid(),
        course_id UUID NOT NULL REFERENCES {S}.courses(id) ON DELETE CASCADE,
        key VARCHAR(100) NOT NULL CHECK (key {KEY_CHECK}),
        name VARCHAR(255) NOT NULL,
        description TEXT,
        sort_order INTEGER NOT NULL,
        cefr_level VARCHAR(10) CHECK (cefr_level IN ('A1', 'A2', 'B1', 'B2', 'C1', 'C2')),
        is_active BOOLEAN NOT NULL DEFAULT TRUE,
        created_at TIMESTAMPTZ NOT NULL DEFAULT now(),
        updated_at TIMESTAMPTZ NOT NULL DEFAULT now(),
        CONSTRAINT sections_course_id_sort_order_key UNIQUE (course_id, sort_order) DEFERRABLE INITIALLY DEFERRED,
        CONSTRAINT sections_course_id_key_key UNIQUE (course_id, key)
    )
    """,
    f"""
    CREATE TABLE {S}.units (
        id UUID PRIMARY KEY DEFAULT gen_random_uuid(),
        section_id UUID NOT NULL REFERENCES {S}.sections(id) ON DELETE CASCADE,
        key VARCHAR(100) NOT NULL CHECK (key {KEY_CHECK}),
        name VARCHAR(255) NOT NULL,
        description TEXT,
        sort_order INTEGER NOT NULL,
        icon_url VARCHAR(500),
        color VARCHAR(7) CHECK (color ~ '^#[0-9A-Fa-f]{{6}}$'),
        is_active BOOLEAN NOT NULL DEFAULT TRUE,
        created_at TIMESTAMPTZ NOT NULL DEFAULT now(),
        updated_at TIMESTAMPTZ NOT NULL DEFAULT now(),
        CONSTRAINT units_section_id_sort_order_key UNIQUE (section_id, sort_order) DEFERRABLE INITIALLY DEFERRED,
        CONSTRAINT units_section_id_key_key UNIQUE (section_id, key)
    )
    """,
    f"""
    CREATE TABLE {S}.lessons (
        id UUID PRIMARY KEY DEFAULT gen_random_uuid(),
        unit_id UUID NOT NULL REFERENCES {S}.units(id) ON DELETE CASCADE,
        key VARCHAR(100) NOT NULL CHECK (key {KEY_CHECK}),
        name VARCHAR(255) NOT NULL,
        description TEXT,
        sort_order INTEGER NOT NULL,
        estimated_minutes INTEGER NOT NULL DEFAULT 5 CHECK (estimated_minutes > 0),
        xp_reward INTEGER NOT NULL DEFAULT 20 CHECK (xp_reward >= 0),
        is_active BOOLEAN NOT NULL DEFAULT TRUE,
        created_at TIMESTAMPTZ NOT NULL DEFAULT now(),
        updated_at TIMESTAMPTZ NOT NULL DEFAULT now(),
        CONSTRAINT lessons_unit_id_sort_order_key UNIQUE (unit_id, sort_order) DEFERRABLE INITIALLY DEFERRED,
        CONSTRAINT lessons_unit_id_key_key UNIQUE (unit_id, key)
    )
    """,
    f"""
    CREATE TABLE {S}.lesson_prerequisites (
        id UUID PRIMARY KEY DEFAULT gen_random_uuid(),
        lesson_id UUID NOT NULL REFERENCES {S}.lessons(id) ON DELETE CASCADE,
        prerequisite_lesson_id UUID NOT NULL REFERENCES {S}.lessons(id) ON DELETE CASCADE,
        created_at TIMESTAMPTZ NOT NULL DEFAULT now(),
        UNIQUE (lesson_id, prerequisite_lesson_id),
        CHECK (lesson_id <> prerequisite_lesson_id)
    )
    """,
    f"""
    CREATE TABLE {S}.exercise_types (
        id UUID PRIMARY KEY DEFAULT gen_random_uuid(),
        name VARCHAR(100) NOT NULL UNIQUE,
        description TEXT,
        is_active BOOLEAN NOT NULL DEFAULT TRUE,
        created_at TIMESTAMPTZ NOT NULL DEFAULT now()
    )
    """,
    f"""
    CREATE TABLE {S}.exercises (
        id UUID PRIMARY KEY DEFAULT gen_random_uuid(),
        course_id UUID NOT NULL REFERENCES {S}.courses(id) ON DELETE CASCADE,
        key VARCHAR(100) NOT NULL CHECK (key {KEY_CHECK}),
        exercise_type_id UUID NOT NULL REFERENCES {S}.exercise_types(id),
        prompt TEXT NOT NULL,
        correct_answer TEXT NOT NULL,
        alternative_answers JSONB CHECK (alternative_answers IS NULL OR jsonb_typeof(alternative_answers) = 'array'),
        explanation TEXT,
        hint TEXT,
        difficulty_level INTEGER NOT NULL DEFAULT 1 CHECK (difficulty_level BETWEEN 1 AND 5),
        estimated_seconds INTEGER NOT NULL DEFAULT 30 CHECK (estimated_seconds > 0),
        audio_url VARCHAR(500),
        image_url VARCHAR(500),
        metadata JSONB,
        is_active BOOLEAN NOT NULL DEFAULT TRUE,
        created_at TIMESTAMPTZ NOT NULL DEFAULT now(),
        updated_at TIMESTAMPTZ NOT NULL DEFAULT now(),
        CONSTRAINT exercises_course_id_key_key UNIQUE (course_id, key)
    )
    """,
    f"""
    CREATE TABLE {S}.exercise_options (
        id UUID PRIMARY KEY DEFAULT gen_random_uuid(),
        exercise_id UUID NOT NULL REFERENCES {S}.exercises(id) ON DELETE CASCADE,
        option_text TEXT NOT NULL,
        is_correct BOOLEAN NOT NULL DEFAULT FALSE,
        sort_order INTEGER NOT NULL,
        created_at TIMESTAMPTZ NOT NULL DEFAULT now(),
        CONSTRAINT exercise_options_exercise_id_sort_order_key
            UNIQUE (exercise_id, sort_order) DEFERRABLE INITIALLY DEFERRED
    )
    """,
    f"""
    CREATE TABLE {S}.lesson_exercises (
        id UUID PRIMARY KEY DEFAULT gen_random_uuid(),
        lesson_id UUID NOT NULL REFERENCES {S}.lessons(id) ON DELETE CASCADE,
        exercise_id UUID NOT NULL REFERENCES {S}.exercises(id) ON DELETE CASCADE,
        sort_order INTEGER NOT NULL,
        created_at TIMESTAMPTZ NOT NULL DEFAULT now(),
        UNIQUE (lesson_id, exercise_id),
        CONSTRAINT lesson_exercises_lesson_id_sort_order_key
            UNIQUE (lesson_id, sort_order) DEFERRABLE INITIALLY DEFERRED
    )
    """,
    f"""
    CREATE TABLE {S}.audio_files (
        id UUID PRIMARY KEY DEFAULT gen_random_uuid(),
        exercise_id UUID NOT NULL REFERENCES {S}.exercises(id) ON DELETE CASCADE,
        file_path VARCHAR(500) NOT NULL,
        file_format VARCHAR(10) NOT NULL CHECK (file_format IN ('mp3', 'wav', 'ogg')),
        quality_level VARCHAR(20) NOT NULL DEFAULT 'medium' CHECK (quality_level IN ('low', 'medium', 'high')),
        file_size_bytes BIGINT CHECK (file_size_bytes >= 0),
        duration_seconds INTEGER CHECK (duration_seconds >= 0),
        sample_rate INTEGER CHECK (sample_rate > 0),
        bit_rate INTEGER CHECK (bit_rate > 0),
        is_active BOOLEAN NOT NULL DEFAULT TRUE,
        created_at TIMESTAMPTZ NOT NULL DEFAULT now(),
        updated_at TIMESTAMPTZ NOT NULL DEFAULT now(),
        UNIQUE (exercise_id, file_format, quality_level)
    )
    """,
    # One row counting content changes: readers cache payloads per revision (ETag) and re-read only
    # after a change, whichever process (service, CLI import, seed) made it.
    f"""
    CREATE TABLE {S}.content_revision (
        id SMALLINT PRIMARY KEY DEFAULT 1 CHECK (id = 1),
        revision BIGINT NOT NULL DEFAULT 1,
        changed_at TIMESTAMPTZ NOT NULL DEFAULT now()
    )
    """,
]

INDEXES = [
    ("idx_courses_from_language", "courses", "from_language_id"),
    ("idx_courses_to_language", "courses", "to_language_id"),
    ("idx_sections_course_id", "sections", "course_id"),
    ("idx_sections_sort_order", "sections", "course_id, sort_order"),
    ("idx_units_section_id", "units", "section_id"),
    ("idx_units_sort_order", "units", "section_id, sort_order"),
    ("idx_lessons_unit_id", "lessons", "unit_id"),
    ("idx_lessons_sort_order", "lessons", "unit_id, sort_order"),
    ("idx_lesson_prerequisites_lesson_id", "lesson_prerequisites", "lesson_id"),
    ("idx_lesson_prerequisites_prerequisite_id", "lesson_prerequisites", "prerequisite_lesson_id"),
    ("idx_exercises_type", "exercises", "exercise_type_id"),
    ("idx_exercises_difficulty", "exercises", "difficulty_level"),
    ("idx_exercises_course_id", "exercises", "course_id"),
    ("idx_lesson_exercises_lesson_id", "lesson_exercises", "lesson_id"),
    ("idx_lesson_exercises_exercise_id", "lesson_exercises", "exercise_id"),
    ("idx_exercise_options_exercise_id", "exercise_options", "exercise_id"),
    ("idx_audio_files_exercise_id", "audio_files", "exercise_id"),
    ("idx_audio_files_quality", "audio_files", "quality_level"),
]

LANGUAGES = [
    ("en", "English", "English", 1),
    ("es", "Spanish", "Español", 2),
    ("fr", "French", "Français", 3),
    ("de", "German", "Deutsch", 4),
    ("it", "Italian", "Italiano", 5),
    ("pt", "Portuguese", "Português", 6),
]

EXERCISE_TYPES = [
    ("translation", "Translate text from one language to another", True),
    ("multiple_choice", "Choose the correct answer from multiple options", True),
    ("listening", "Listen to audio and provide the correct response", True),
    ("speaking", "Speak the correct pronunciation", False),
    ("writing", "Write the correct text", False),
]


def upgrade() -> None:
    for ddl in TABLES_DDL:
        op.execute(ddl)
    for name, table, columns in INDEXES:
        op.execute(f"CREATE INDEX {name} ON {S}.{table} ({columns})")
    for table in UPDATED_AT_TABLES:
        add_updated_at_trigger(S, table)

    op.execute(f"INSERT INTO {S}.content_revision (id, revision) VALUES (1, 1)")
    op.execute(
        f"""
        CREATE FUNCTION {S}.bump_content_revision() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
            UPDATE {S}.content_revision SET revision = revision + 1, changed_at = now() WHERE id = 1;
            RETURN NULL;
        END $$
        """
    )
    for table in CONTENT_TABLES:
        op.execute(
            f"CREATE TRIGGER {table}_bump_content_revision AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE "
            f"ON {S}.{table} FOR EACH STATEMENT EXECUTE FUNCTION {S}.bump_content_revision()"
        )

    for code, name, native_name, sort_order in LANGUAGES:
        op.execute(
            f"INSERT INTO {S}.languages (code, name, native_name, is_active, sort_order) "
            f"VALUES ('{code}', '{name}', '{native_name}', TRUE, {sort_order})"
        )
    for name, description, active in EXERCISE_TYPES:
        op.execute(
            f"INSERT INTO {S}.exercise_types (name, description, is_active) "
            f"VALUES ('{name}', '{description}', {'TRUE' if active else 'FALSE'})"
        )


def downgrade() -> None:
    op.execute(f"DROP TABLE {S}.content_revision")
    for table in reversed(CONTENT_TABLES):
        op.execute(f"DROP TABLE {S}.{table} CASCADE")
    op.execute(f"DROP FUNCTION {S}.bump_content_revision()")
