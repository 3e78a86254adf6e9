"""Streak freezes (issue 14): a learner holds 0 to 2 (parla_progress.domain.streaks, MAX_FREEZES).

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-30
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

SCHEMA = "progress"


def upgrade() -> None:
    op.add_column(
        "learners", sa.Column("streak_freezes", sa.SmallInteger, nullable=False, server_default="0"), schema=SCHEMA
    )
    op.create_check_constraint(
        "ck_learners_streak_freezes", "learners", "streak_freezes BETWEEN 0 AND 2", schema=SCHEMA
    )


def downgrade() -> None:
    op.drop_constraint("ck_learners_streak_freezes", "learners", schema=SCHEMA)
    op.drop_column("learners", "streak_freezes", schema=SCHEMA)
