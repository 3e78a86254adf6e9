"""Deleted accounts whose access tokens may still be unexpired: every service refuses their tokens at once.

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-29
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import UUID

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

SCHEMA = "identity"


def upgrade() -> None:
    # No foreign key: the user row is gone; the row is deleted once the account's last token has expired.
    op.create_table(
        "deleted_accounts",
        sa.Column("user_id", UUID(as_uuid=True), primary_key=True),
        sa.Column("deleted_at", sa.TIMESTAMP(timezone=True), nullable=False, server_default=sa.text("now()")),
        schema=SCHEMA,
    )
    op.create_index("ix_deleted_accounts_deleted_at", "deleted_accounts", ["deleted_at"], schema=SCHEMA)


def downgrade() -> None:
    op.drop_table("deleted_accounts", schema=SCHEMA)
