"""The PRD's ``idx_user_exercise_interactions_user_id`` becomes ``(user_id, interaction_at)``: it still serves every
lookup by user, and the per-account answer limit reads a learner's latest answers from it without a scan of their
whole history (parla_progress.limits) and without a second index to maintain on every answer.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-29
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

SCHEMA = "progress"
TABLE = "user_exercise_interactions"
INDEX = "idx_user_exercise_interactions_user_id"


def upgrade() -> None:
    op.drop_index(INDEX, TABLE, schema=SCHEMA)
    op.create_index(INDEX, TABLE, ["user_id", "interaction_at"], schema=SCHEMA)


def downgrade() -> None:
    op.drop_index(INDEX, TABLE, schema=SCHEMA)
    op.create_index(INDEX, TABLE, ["user_id"], schema=SCHEMA)
