"""Spaced repetition: one FSRS memory state per (learner, exercise), written by every answer (issue 14).

``state``/``step``/``stability``/``difficulty``/``due``/``last_review`` are FSRS's card (parla_progress.domain.memory);
``lesson_id`` is the lesson the exercise was last answered in (practice sessions carry it). The (user_id, due) index
serves the review forecast. No ``updated_at`` trigger: the row is written on every answer, ``last_review`` says when.

Exercises answered before this revision get a state FSRS treats as never reviewed (no stability: retrievability 0),
due at their latest answer, so practice picks them first and the next answer schedules them.

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-30
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql as pg

from parla_shared.db import SystemPath
from parla_shared.migrations import enable_fail_closed_row_security

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

SCHEMA = "progress"
TABLE = "exercise_memory"
UUID = pg.UUID(as_uuid=True)
TS = sa.TIMESTAMP(timezone=True)


def upgrade() -> None:
    op.create_table(
        TABLE,
        sa.Column("user_id", UUID, nullable=False),
        sa.Column("exercise_id", UUID, nullable=False),
        sa.Column("lesson_id", UUID, nullable=False),
        sa.Column("state", sa.SmallInteger, nullable=False),
        sa.Column("step", sa.SmallInteger),
        sa.Column("stability", sa.Double),
        sa.Column("difficulty", sa.Double),
        sa.Column("due", TS, nullable=False),
        sa.Column("last_review", TS),
        sa.Column("reviews", sa.Integer, nullable=False, server_default="0"),
        sa.PrimaryKeyConstraint("user_id", "exercise_id", name="pk_exercise_memory"),
        sa.CheckConstraint("state IN (1, 2, 3)", name="ck_exercise_memory_state"),
        sa.CheckConstraint("stability IS NULL OR stability > 0", name="ck_exercise_memory_stability"),
        sa.CheckConstraint("last_review IS NULL OR due >= last_review", name="ck_exercise_memory_due"),
        schema=SCHEMA,
    )
    op.create_index("idx_exercise_memory_due", TABLE, ["user_id", "due"], schema=SCHEMA)
    enable_fail_closed_row_security(SCHEMA, TABLE)
    # Row-level security binds the migration's role too: the backfill reads every learner's answers.
    op.execute(f"SELECT set_config('app.system_path', '{SystemPath.OPERATOR.value}', true)")
    op.execute(
        f"INSERT INTO {SCHEMA}.{TABLE} (user_id, exercise_id, lesson_id, state, step, due) "
        "SELECT DISTINCT ON (user_id, exercise_id) user_id, exercise_id, lesson_id, 1, 0, interaction_at "
        f"FROM {SCHEMA}.user_exercise_interactions ORDER BY user_id, exercise_id, interaction_at DESC"
    )
    op.execute("SELECT set_config('app.system_path', '', true)")


def downgrade() -> None:
    op.drop_table(TABLE, schema=SCHEMA)
