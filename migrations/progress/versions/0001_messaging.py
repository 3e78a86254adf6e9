"""The progress schema's support objects: outbox, inbox, dead letters and the updated_at trigger function.

Revision ID: 0001
Revises:
Create Date: 2026-11-25
"""

from collections.abc import Sequence

from parla_shared.migrations import create_schema_support, drop_schema_support

revision: str = "0001"
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    create_schema_support("progress")


def downgrade() -> None:
    drop_schema_support("progress")
