"""Row-level security on identity's user tables, failing closed.

``users`` (by ``id``), ``user_roles``, ``oauth_providers``, ``refresh_tokens`` and ``user_tokens`` (by
``user_id``) get the acting-user and system-path policies of
``parla_shared.migrations.fail_closed_row_security_sql``: ``/users/me`` sees the caller's rows only; sign-in,
OAuth, admin routes and operator commands name their system path; anything else sees none.

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-29
"""

from collections.abc import Sequence

from parla_shared.migrations import disable_row_security, enable_fail_closed_row_security

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

SCHEMA = "identity"
USER_TABLES = {
    "users": "id",
    "user_roles": "user_id",
    "oauth_providers": "user_id",
    "refresh_tokens": "user_id",
    "user_tokens": "user_id",
}


def upgrade() -> None:
    for table, column in USER_TABLES.items():
        enable_fail_closed_row_security(SCHEMA, table, column)


def downgrade() -> None:
    for table in USER_TABLES:
        disable_row_security(SCHEMA, table)
