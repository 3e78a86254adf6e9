"""Login throttling becomes the general rate-limit table: ``login_throttles`` → ``rate_limits``, ``failures`` →
``hits`` (it now also counts registrations, reset requests and OAuth starts; parla_shared.ratelimit).

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

SCHEMA = "identity"


def upgrade() -> None:
    op.rename_table("login_throttles", "rate_limits", schema=SCHEMA)
    op.alter_column("rate_limits", "failures", new_column_name="hits", schema=SCHEMA)
    op.execute(f"ALTER TABLE {SCHEMA}.rate_limits RENAME CONSTRAINT ck_login_throttles_failures TO ck_rate_limits_hits")
    op.execute(f"ALTER TABLE {SCHEMA}.rate_limits RENAME CONSTRAINT login_throttles_pkey TO rate_limits_pkey")
    op.execute(
        f"ALTER TRIGGER login_throttles_set_updated_at ON {SCHEMA}.rate_limits RENAME TO rate_limits_set_updated_at"
    )


def downgrade() -> None:
    op.execute(
        f"ALTER TRIGGER rate_limits_set_updated_at ON {SCHEMA}.rate_limits RENAME TO login_throttles_set_updated_at"
    )
    op.execute(f"ALTER TABLE {SCHEMA}.rate_limits RENAME CONSTRAINT rate_limits_pkey TO login_throttles_pkey")
    op.execute(f"ALTER TABLE {SCHEMA}.rate_limits RENAME CONSTRAINT ck_rate_limits_hits TO ck_login_throttles_failures")
    op.alter_column("rate_limits", "hits", new_column_name="failures", schema=SCHEMA)
    op.rename_table("rate_limits", "login_throttles", schema=SCHEMA)
