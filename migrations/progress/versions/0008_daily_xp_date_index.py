"""``idx_user_daily_xp_date`` on ``(date, user_id)`` instead of ``(date)`` alone.

Statistics gathered before today's rows (most of every day: autovacuum re-analyzes after 10 % of the table changes)
estimate ``date = today`` at one row, so the planner took the smaller ``(date)`` index for ``/me``'s and every
completion's "today's XP" lookup and filtered every learner's row of today: a cost that grew with the day's active
learners (docs/performance.md, "Data growth"). With ``user_id`` as its second column the same index still serves a
read by date, as the PRD's does, and whichever index the planner takes goes straight to the learner's row.

Revision ID: 0008
Revises: 0007
Create Date: 2026-11-30
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0008"
down_revision: str | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

SCHEMA = "progress"
INDEX = "idx_user_daily_xp_date"


def upgrade() -> None:
    op.drop_index(INDEX, table_name="user_daily_xp", schema=SCHEMA)
    op.create_index(INDEX, "user_daily_xp", ["date", "user_id"], schema=SCHEMA)


def downgrade() -> None:
    op.drop_index(INDEX, table_name="user_daily_xp", schema=SCHEMA)
    op.create_index(INDEX, "user_daily_xp", ["date"], schema=SCHEMA)
