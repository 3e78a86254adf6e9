"""An index for the housekeeping that deletes expired refresh tokens.

Identity's background task deletes ``refresh_tokens`` expired for over a day every minute on every replica. Every
refresh adds a row (rotation keeps the old one until it expires), so the table holds about learners x refreshes
in 30 days; without an index on ``expires_at`` each round is a sequential scan of all of it (docs/performance.md,
"Data growth").

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-29
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

SCHEMA = "identity"


def upgrade() -> None:
    op.create_index("ix_refresh_tokens_expires_at", "refresh_tokens", ["expires_at"], schema=SCHEMA)


def downgrade() -> None:
    op.drop_index("ix_refresh_tokens_expires_at", table_name="refresh_tokens", schema=SCHEMA)
