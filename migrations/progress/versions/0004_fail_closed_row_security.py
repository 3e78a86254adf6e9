"""Row-level security fails closed: no acting user and no named system path, no learner rows.

Replaces 0002's policies (which showed every row while ``app.user_id`` was unset) with the acting-user and
system-path policies of ``parla_shared.migrations.fail_closed_row_security_sql``.

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-29
"""

from collections.abc import Sequence

from parla_shared.migrations import (
    disable_row_security,
    enable_fail_closed_row_security,
    enable_user_row_security,
)

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

SCHEMA = "progress"
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


def upgrade() -> None:
    for name in USER_TABLES:
        disable_row_security(SCHEMA, name)
        enable_fail_closed_row_security(SCHEMA, name)


def downgrade() -> None:
    for name in USER_TABLES:
        disable_row_security(SCHEMA, name)
        enable_user_row_security(SCHEMA, name)
