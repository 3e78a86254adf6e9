"""Weekly leagues (issue 14): memberships per week, the cohort counters that fill cohorts of 30, each closed week
and its results; the learner's tier and current cohort on the learner row.

- ``league_memberships`` (PK week, user_id): the learner's XP of the week in their cohort. Besides the acting
  user's own rows, a learner may read the rows of the cohort their learner row names (``league_cohort_id``): the
  leaderboard. The learner row is the acting user's own, so the policy's subquery needs no other policy.
- ``league_cohort_counters`` (PK week, tier): how many joined a tier in a week; the n-th is in cohort
  (n - 1) // 30. No user data, no row-level security.
- ``league_weeks`` (PK week): a closed week. Its insert is what makes the week's end happen once, whichever
  replica runs it (the others' inserts conflict and do nothing).
- ``league_results`` (PK week, user_id): each member's rank and outcome.

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-30
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql as pg

from parla_shared.migrations import ACTING_USER, enable_fail_closed_row_security

revision: str = "0007"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

SCHEMA = "progress"
UUID = pg.UUID(as_uuid=True)
TS = sa.TIMESTAMP(timezone=True)
TIERS = 10


def upgrade() -> None:
    op.add_column(
        "learners", sa.Column("league_tier", sa.SmallInteger, nullable=False, server_default="0"), schema=SCHEMA
    )
    op.add_column("learners", sa.Column("league_week", sa.Date), schema=SCHEMA)
    op.add_column("learners", sa.Column("league_cohort_id", UUID), schema=SCHEMA)
    op.create_check_constraint(
        "ck_learners_league_tier", "learners", f"league_tier BETWEEN 0 AND {TIERS - 1}", schema=SCHEMA
    )
    op.create_table(
        "league_memberships",
        sa.Column("week", sa.Date, nullable=False),
        sa.Column("user_id", UUID, nullable=False),
        sa.Column("tier", sa.SmallInteger, nullable=False),
        sa.Column("cohort_id", UUID, nullable=False),
        sa.Column("xp", sa.Integer, nullable=False),
        sa.Column("xp_reached_at", TS, nullable=False),
        sa.PrimaryKeyConstraint("week", "user_id", name="pk_league_memberships"),
        sa.CheckConstraint("xp >= 0", name="ck_league_memberships_xp"),
        schema=SCHEMA,
    )
    op.execute(
        f"CREATE INDEX idx_league_memberships_cohort ON {SCHEMA}.league_memberships "
        "(cohort_id, xp DESC, xp_reached_at, user_id)"
    )
    enable_fail_closed_row_security(SCHEMA, "league_memberships")
    op.execute(
        f"CREATE POLICY league_memberships_cohort ON {SCHEMA}.league_memberships FOR SELECT "
        f"USING (cohort_id = (SELECT league_cohort_id FROM {SCHEMA}.learners WHERE user_id = {ACTING_USER}))"
    )
    op.create_table(
        "league_cohort_counters",
        sa.Column("week", sa.Date, nullable=False),
        sa.Column("tier", sa.SmallInteger, nullable=False),
        sa.Column("joined", sa.Integer, nullable=False),
        sa.PrimaryKeyConstraint("week", "tier", name="pk_league_cohort_counters"),
        schema=SCHEMA,
    )
    op.create_table(
        "league_weeks",
        sa.Column("week", sa.Date, primary_key=True),
        sa.Column("closed_at", TS, nullable=False),
        sa.Column("learners", sa.Integer, nullable=False),
        schema=SCHEMA,
    )
    op.create_table(
        "league_results",
        sa.Column("week", sa.Date, nullable=False),
        sa.Column("user_id", UUID, nullable=False),
        sa.Column("cohort_id", UUID, nullable=False),
        sa.Column("tier", sa.SmallInteger, nullable=False),
        sa.Column("rank", sa.Integer, nullable=False),
        sa.Column("xp", sa.Integer, nullable=False),
        sa.Column("outcome", sa.String(10), nullable=False),
        sa.Column("new_tier", sa.SmallInteger, nullable=False),
        sa.PrimaryKeyConstraint("week", "user_id", name="pk_league_results"),
        sa.CheckConstraint("outcome IN ('promoted', 'stayed', 'demoted')", name="ck_league_results_outcome"),
        schema=SCHEMA,
    )
    enable_fail_closed_row_security(SCHEMA, "league_results")


def downgrade() -> None:
    for table in ("league_results", "league_weeks", "league_cohort_counters", "league_memberships"):
        op.drop_table(table, schema=SCHEMA)
    op.drop_constraint("ck_learners_league_tier", "learners", schema=SCHEMA)
    for column in ("league_cohort_id", "league_week", "league_tier"):
        op.drop_column("learners", column, schema=SCHEMA)
