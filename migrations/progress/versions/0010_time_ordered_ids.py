"""Progress' rows get time-ordered ids (UUID version 7) by default instead of random ones (version 4).

A random id puts every insert on a random leaf page of the primary key, so as the tables grow, more of those
pages are outside memory and each insert reads and dirties one more (docs/performance.md, "Data growth"). A
version 7 id starts with the time in milliseconds: new rows go to the same few leaves at the index's growing edge.
The service already makes version 7 ids for sessions, interactions and stored answers; this does the same for the
rows that took the column default (lesson progress, daily XP, hearts log, achievements, enrolments).
``progress.uuid7()`` is written in SQL because PostgreSQL 15 has no ``uuidv7()`` (it came in 18).

Revision ID: 0010
Revises: 0009
Create Date: 2026-11-30
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0010"
down_revision: str | None = "0009"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

SCHEMA = "progress"
TABLES = (
    "user_courses",
    "user_lesson_progress",
    "user_daily_xp",
    "user_hearts_log",
    "user_achievements",
    "lesson_sessions",
    "user_exercise_interactions",
    "lesson_session_answers",
)

# A random (version 4) UUID with its first 48 bits replaced by the Unix time in milliseconds and its version
# nibble turned from 4 (0100) into 7 (0111): set_bit numbers a bytea's bits from the right of each byte, so bits
# 52 and 53 are the version nibble's two low bits. The variant bits stay as gen_random_uuid() set them.
UUID7 = f"""
CREATE FUNCTION {SCHEMA}.uuid7() RETURNS uuid LANGUAGE sql VOLATILE PARALLEL SAFE AS $$
    SELECT encode(
        set_bit(set_bit(
            overlay(uuid_send(gen_random_uuid())
                    PLACING substring(int8send(floor(extract(epoch FROM clock_timestamp()) * 1000)::bigint) FROM 3)
                    FROM 1 FOR 6),
            52, 1), 53, 1),
        'hex')::uuid
$$
"""


def upgrade() -> None:
    op.execute(UUID7)
    for table in TABLES:
        op.execute(f"ALTER TABLE {SCHEMA}.{table} ALTER COLUMN id SET DEFAULT {SCHEMA}.uuid7()")


def downgrade() -> None:
    for table in TABLES:
        op.execute(f"ALTER TABLE {SCHEMA}.{table} ALTER COLUMN id SET DEFAULT gen_random_uuid()")
    op.execute(f"DROP FUNCTION {SCHEMA}.uuid7()")
