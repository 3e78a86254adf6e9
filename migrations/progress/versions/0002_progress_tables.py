"""The PRD's progress tables, lesson sessions with their answers, and the learner projection.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-25

No foreign key leaves the ``progress`` schema: ``user_id``, ``course_id``, ``lesson_id`` and
``exercise_id`` are plain UUIDs owned by identity and curriculum (see docs/decisions.md (progress)).
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql as pg

from parla_shared.migrations import add_updated_at_trigger, enable_user_row_security

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

SCHEMA = "progress"
UUID = pg.UUID(as_uuid=True)
TS = sa.TIMESTAMP(timezone=True)

USER_TABLES = (
    "learners",
    "user_courses",
    "user_lesson_progress",
    "user_exercise_interactions",
    "user_daily_xp",
    "user_hearts_log",
    "user_achievements",
    "lesson_sessions",
    "lesson_session_answers",
)
UPDATED_AT_TABLES = (
    "learners",
    "user_courses",
    "user_lesson_progress",
    "user_daily_xp",
    "achievements",
    "lesson_sessions",
)


def _id() -> sa.Column[object]:
    return sa.Column("id", UUID, primary_key=True, server_default=sa.text("gen_random_uuid()"))


def _created_at() -> sa.Column[object]:
    return sa.Column("created_at", TS, nullable=False, server_default=sa.text("now()"))


def _updated_at() -> sa.Column[object]:
    return sa.Column("updated_at", TS, nullable=False, server_default=sa.text("now()"))


def upgrade() -> None:
    op.create_table(
        "learners",
        sa.Column("user_id", UUID, primary_key=True),
        sa.Column("timezone", sa.String(50), nullable=False, server_default="UTC"),
        sa.Column("daily_xp_goal", sa.Integer, nullable=False, server_default="20"),
        sa.Column("hearts", sa.Integer, nullable=False, server_default="5"),
        sa.Column("hearts_refill_anchor", TS),
        sa.Column("total_xp", sa.Integer, nullable=False, server_default="0"),
        sa.Column("current_streak", sa.Integer, nullable=False, server_default="0"),
        sa.Column("longest_streak", sa.Integer, nullable=False, server_default="0"),
        sa.Column("last_active_local_date", sa.Date),
        sa.Column("streak_survives_until", TS),
        sa.Column("perfect_lessons", sa.Integer, nullable=False, server_default="0"),
        sa.Column("skills_completed", sa.Integer, nullable=False, server_default="0"),
        sa.Column("last_active_at", TS),
        _created_at(),
        _updated_at(),
        sa.CheckConstraint("daily_xp_goal IN (10, 20, 30, 50)", name="ck_learners_daily_xp_goal"),
        sa.CheckConstraint("hearts BETWEEN 0 AND 5", name="ck_learners_hearts"),
        sa.CheckConstraint("(hearts = 5) = (hearts_refill_anchor IS NULL)", name="ck_learners_refill_anchor"),
        sa.CheckConstraint("total_xp >= 0", name="ck_learners_total_xp"),
        sa.CheckConstraint("current_streak >= 0 AND longest_streak >= current_streak", name="ck_learners_streaks"),
        sa.CheckConstraint("perfect_lessons >= 0 AND skills_completed >= 0", name="ck_learners_counters"),
        schema=SCHEMA,
    )

    op.create_table(
        "user_courses",
        _id(),
        sa.Column("user_id", UUID, nullable=False),
        sa.Column("course_id", UUID, nullable=False),
        sa.Column("enrolled_at", TS, nullable=False, server_default=sa.text("now()")),
        sa.Column("last_active_at", TS, nullable=False, server_default=sa.text("now()")),
        sa.Column("total_xp", sa.Integer, nullable=False, server_default="0"),
        sa.Column("is_active", sa.Boolean, nullable=False, server_default=sa.true()),
        _created_at(),
        _updated_at(),
        sa.UniqueConstraint("user_id", "course_id", name="uq_user_courses_user_course"),
        sa.CheckConstraint("total_xp >= 0", name="ck_user_courses_total_xp"),
        schema=SCHEMA,
    )
    op.create_index("idx_user_courses_user_id", "user_courses", ["user_id"], schema=SCHEMA)
    op.create_index("idx_user_courses_course_id", "user_courses", ["course_id"], schema=SCHEMA)
    op.create_index("idx_user_courses_last_active", "user_courses", ["last_active_at"], schema=SCHEMA)

    op.create_table(
        "user_lesson_progress",
        _id(),
        sa.Column("user_id", UUID, nullable=False),
        sa.Column("course_id", UUID, nullable=False),
        sa.Column("lesson_id", UUID, nullable=False),
        sa.Column("status", sa.String(20), nullable=False, server_default="locked"),
        sa.Column("completion_count", sa.Integer, nullable=False, server_default="0"),
        sa.Column("best_score", sa.Integer, nullable=False, server_default="0"),
        sa.Column("total_attempts", sa.Integer, nullable=False, server_default="0"),
        sa.Column("total_time_seconds", sa.Integer, nullable=False, server_default="0"),
        sa.Column("xp_earned", sa.Integer, nullable=False, server_default="0"),
        sa.Column("hearts_lost", sa.Integer, nullable=False, server_default="0"),
        sa.Column("first_completed_at", TS),
        sa.Column("last_completed_at", TS),
        _created_at(),
        _updated_at(),
        sa.UniqueConstraint("user_id", "lesson_id", name="uq_user_lesson_progress_user_lesson"),
        sa.CheckConstraint(
            "status IN ('locked', 'available', 'in_progress', 'completed')", name="ck_user_lesson_progress_status"
        ),
        sa.CheckConstraint("best_score BETWEEN 0 AND 100", name="ck_user_lesson_progress_best_score"),
        sa.CheckConstraint(
            "completion_count >= 0 AND total_attempts >= 0 AND total_time_seconds >= 0 "
            "AND xp_earned >= 0 AND hearts_lost >= 0",
            name="ck_user_lesson_progress_counters",
        ),
        sa.CheckConstraint("(status = 'completed') = (completion_count > 0)", name="ck_user_lesson_progress_completed"),
        schema=SCHEMA,
    )
    op.create_index("idx_user_lesson_progress_user_id", "user_lesson_progress", ["user_id"], schema=SCHEMA)
    op.create_index("idx_user_lesson_progress_lesson_id", "user_lesson_progress", ["lesson_id"], schema=SCHEMA)
    op.create_index("idx_user_lesson_progress_status", "user_lesson_progress", ["status"], schema=SCHEMA)
    op.create_index(
        "idx_user_lesson_progress_user_course", "user_lesson_progress", ["user_id", "course_id"], schema=SCHEMA
    )

    op.create_table(
        "lesson_sessions",
        _id(),
        sa.Column("user_id", UUID, nullable=False),
        sa.Column("course_id", UUID, nullable=False),
        sa.Column("lesson_id", UUID),
        sa.Column("practice", sa.Boolean, nullable=False, server_default=sa.false()),
        # [{"exercise_id": ..., "lesson_id": ...}] in the order the learner gets them.
        sa.Column("exercises", pg.JSONB, nullable=False),
        sa.Column("xp_reward", sa.Integer, nullable=False),
        sa.Column("status", sa.String(20), nullable=False, server_default="active"),
        sa.Column("started_at", TS, nullable=False, server_default=sa.text("now()")),
        sa.Column("completed_at", TS),
        sa.Column("result", pg.JSONB),
        _created_at(),
        _updated_at(),
        sa.CheckConstraint("status IN ('active', 'completed')", name="ck_lesson_sessions_status"),
        sa.CheckConstraint("xp_reward >= 0", name="ck_lesson_sessions_xp_reward"),
        sa.CheckConstraint("practice OR lesson_id IS NOT NULL", name="ck_lesson_sessions_lesson"),
        sa.CheckConstraint(
            "(status = 'completed') = (completed_at IS NOT NULL AND result IS NOT NULL)",
            name="ck_lesson_sessions_completed",
        ),
        schema=SCHEMA,
    )
    op.create_index("idx_lesson_sessions_user_id", "lesson_sessions", ["user_id", "started_at"], schema=SCHEMA)

    op.create_table(
        "user_exercise_interactions",
        _id(),
        sa.Column("user_id", UUID, nullable=False),
        sa.Column("exercise_id", UUID, nullable=False),
        sa.Column("lesson_id", UUID, nullable=False),
        sa.Column(
            "session_id",
            UUID,
            sa.ForeignKey(f"{SCHEMA}.lesson_sessions.id", ondelete="CASCADE"),
            nullable=False,
        ),
        sa.Column("user_answer", sa.Text),
        sa.Column("is_correct", sa.Boolean, nullable=False),
        sa.Column("attempt_number", sa.Integer, nullable=False, server_default="1"),
        sa.Column("time_spent_seconds", sa.Integer, nullable=False, server_default="0"),
        sa.Column("hints_used", sa.Integer, nullable=False, server_default="0"),
        sa.Column("hearts_lost", sa.Integer, nullable=False, server_default="0"),
        sa.Column("xp_earned", sa.Integer, nullable=False, server_default="0"),
        sa.Column("interaction_at", TS, nullable=False, server_default=sa.text("now()")),
        _created_at(),
        sa.CheckConstraint("attempt_number >= 1", name="ck_user_exercise_interactions_attempt"),
        sa.CheckConstraint(
            "time_spent_seconds >= 0 AND hints_used >= 0 AND xp_earned >= 0",
            name="ck_user_exercise_interactions_counters",
        ),
        sa.CheckConstraint("hearts_lost BETWEEN 0 AND 1", name="ck_user_exercise_interactions_hearts_lost"),
        schema=SCHEMA,
    )
    table = "user_exercise_interactions"
    op.create_index("idx_user_exercise_interactions_user_id", table, ["user_id"], schema=SCHEMA)
    op.create_index("idx_user_exercise_interactions_exercise_id", table, ["exercise_id"], schema=SCHEMA)
    op.create_index("idx_user_exercise_interactions_lesson_id", table, ["lesson_id"], schema=SCHEMA)
    op.create_index("idx_user_exercise_interactions_date", table, ["interaction_at"], schema=SCHEMA)
    op.create_index("idx_user_exercise_interactions_session_id", table, ["session_id"], schema=SCHEMA)

    op.create_table(
        "lesson_session_answers",
        _id(),
        sa.Column(
            "session_id",
            UUID,
            sa.ForeignKey(f"{SCHEMA}.lesson_sessions.id", ondelete="CASCADE"),
            nullable=False,
        ),
        sa.Column("user_id", UUID, nullable=False),
        sa.Column(
            "interaction_id",
            UUID,
            sa.ForeignKey(f"{SCHEMA}.user_exercise_interactions.id", ondelete="CASCADE"),
            nullable=False,
            unique=True,
        ),
        sa.Column("idempotency_key", sa.String(255)),
        # The answer as it was sent back, so a retry under the same key gets the same answer.
        sa.Column("response", pg.JSONB, nullable=False),
        _created_at(),
        sa.UniqueConstraint("session_id", "idempotency_key", name="uq_lesson_session_answers_idempotency"),
        schema=SCHEMA,
    )

    op.create_table(
        "user_daily_xp",
        _id(),
        sa.Column("user_id", UUID, nullable=False),
        sa.Column("date", sa.Date, nullable=False),
        sa.Column("xp_earned", sa.Integer, nullable=False, server_default="0"),
        sa.Column("goal_met", sa.Boolean, nullable=False, server_default=sa.false()),
        sa.Column("activities_completed", sa.Integer, nullable=False, server_default="0"),
        sa.Column("time_spent_seconds", sa.Integer, nullable=False, server_default="0"),
        _created_at(),
        _updated_at(),
        sa.UniqueConstraint("user_id", "date", name="uq_user_daily_xp_user_date"),
        sa.CheckConstraint(
            "xp_earned >= 0 AND activities_completed >= 0 AND time_spent_seconds >= 0",
            name="ck_user_daily_xp_counters",
        ),
        schema=SCHEMA,
    )
    op.create_index("idx_user_daily_xp_user_id", "user_daily_xp", ["user_id"], schema=SCHEMA)
    op.create_index("idx_user_daily_xp_date", "user_daily_xp", ["date"], schema=SCHEMA)
    op.create_index("idx_user_daily_xp_user_date", "user_daily_xp", ["user_id", "date"], schema=SCHEMA)

    op.create_table(
        "user_hearts_log",
        _id(),
        sa.Column("user_id", UUID, nullable=False),
        sa.Column("action", sa.String(20), nullable=False),
        sa.Column("hearts_before", sa.Integer, nullable=False),
        sa.Column("hearts_after", sa.Integer, nullable=False),
        sa.Column("reason", sa.String(100), nullable=False),
        _created_at(),
        sa.CheckConstraint("action IN ('lost', 'gained', 'regenerated')", name="ck_user_hearts_log_action"),
        sa.CheckConstraint(
            "reason IN ('incorrect_answer', 'time_regeneration', 'practice_completed')",
            name="ck_user_hearts_log_reason",
        ),
        sa.CheckConstraint(
            "hearts_before BETWEEN 0 AND 5 AND hearts_after BETWEEN 0 AND 5 AND hearts_before <> hearts_after",
            name="ck_user_hearts_log_hearts",
        ),
        schema=SCHEMA,
    )
    op.create_index("idx_user_hearts_log_user_id", "user_hearts_log", ["user_id"], schema=SCHEMA)
    op.create_index("idx_user_hearts_log_created_at", "user_hearts_log", ["created_at"], schema=SCHEMA)

    achievements = op.create_table(
        "achievements",
        _id(),
        sa.Column("name", sa.String(255), nullable=False, unique=True),
        sa.Column("description", sa.Text, nullable=False),
        sa.Column("icon_url", sa.String(500)),
        sa.Column("condition_type", sa.String(50), nullable=False),
        sa.Column("condition_value", sa.Integer, nullable=False),
        sa.Column("xp_reward", sa.Integer, nullable=False, server_default="0"),
        sa.Column("is_active", sa.Boolean, nullable=False, server_default=sa.true()),
        _created_at(),
        _updated_at(),
        sa.CheckConstraint(
            "condition_type IN ('lesson_count', 'streak_days', 'perfect_lessons', 'xp_total', 'skills_completed')",
            name="ck_achievements_condition_type",
        ),
        sa.CheckConstraint("condition_value > 0", name="ck_achievements_condition_value"),
        sa.CheckConstraint("xp_reward >= 0", name="ck_achievements_xp_reward"),
        schema=SCHEMA,
    )
    assert achievements is not None
    op.bulk_insert(
        achievements,
        [
            {
                "name": name,
                "description": description,
                "condition_type": kind,
                "condition_value": value,
                "xp_reward": xp,
                "is_active": True,
            }
            for name, description, kind, value, xp in (
                ("First Lesson", "Complete your first lesson", "lesson_count", 1, 50),
                ("Week Warrior", "Maintain a 7-day streak", "streak_days", 7, 100),
                ("Perfect Practice", "Complete a lesson with no mistakes", "perfect_lessons", 1, 75),
                ("XP Collector", "Earn 50 total XP", "xp_total", 50, 25),
                ("Skill Master", "Complete your first skill", "skills_completed", 1, 200),
            )
        ],
    )

    op.create_table(
        "user_achievements",
        _id(),
        sa.Column("user_id", UUID, nullable=False),
        sa.Column(
            "achievement_id",
            UUID,
            sa.ForeignKey(f"{SCHEMA}.achievements.id", ondelete="CASCADE"),
            nullable=False,
        ),
        sa.Column("earned_at", TS, nullable=False, server_default=sa.text("now()")),
        _created_at(),
        sa.UniqueConstraint("user_id", "achievement_id", name="uq_user_achievements_user_achievement"),
        schema=SCHEMA,
    )
    op.create_index("idx_user_achievements_user_id", "user_achievements", ["user_id"], schema=SCHEMA)
    op.create_index("idx_user_achievements_achievement_id", "user_achievements", ["achievement_id"], schema=SCHEMA)

    # Users identity has deleted (FR-5): only the id, so a token still in flight cannot recreate their data.
    op.create_table(
        "erased_users",
        sa.Column("user_id", UUID, primary_key=True),
        sa.Column("erased_at", TS, nullable=False, server_default=sa.text("now()")),
        schema=SCHEMA,
    )

    for name in UPDATED_AT_TABLES:
        add_updated_at_trigger(SCHEMA, name)
    for name in USER_TABLES:
        enable_user_row_security(SCHEMA, name)


def downgrade() -> None:
    for name in (
        "erased_users",
        "user_achievements",
        "achievements",
        "user_hearts_log",
        "user_daily_xp",
        "lesson_session_answers",
        "user_exercise_interactions",
        "lesson_sessions",
        "user_lesson_progress",
        "user_courses",
        "learners",
    ):
        op.drop_table(name, schema=SCHEMA)
