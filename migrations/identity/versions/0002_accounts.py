"""Identity's tables: users, OAuth links, roles, refresh tokens, one-time tokens, signing keys, login throttling.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-25
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import JSONB, UUID

from parla_shared.migrations import add_updated_at_trigger

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

SCHEMA = "identity"
EMAIL_PATTERN = r"^[A-Za-z0-9._%+''-]+@[A-Za-z0-9-]+(\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,}$"


def _now() -> sa.TextClause:
    return sa.text("now()")


def _timestamps() -> list[sa.Column[object]]:
    return [
        sa.Column("created_at", sa.TIMESTAMP(timezone=True), nullable=False, server_default=_now()),
        sa.Column("updated_at", sa.TIMESTAMP(timezone=True), nullable=False, server_default=_now()),
    ]


def upgrade() -> None:
    op.create_table(
        "users",
        sa.Column("id", UUID(as_uuid=True), primary_key=True, server_default=sa.text("gen_random_uuid()")),
        sa.Column("email", sa.String(255), nullable=False),
        sa.Column("password_hash", sa.String(255)),
        sa.Column("name", sa.String(255), nullable=False),
        sa.Column("avatar_url", sa.String(500)),
        sa.Column("is_email_verified", sa.Boolean, nullable=False, server_default=sa.false()),
        sa.Column("daily_xp_goal", sa.Integer, nullable=False, server_default=sa.text("20")),
        sa.Column("timezone", sa.String(50), nullable=False, server_default=sa.text("'UTC'")),
        *_timestamps(),
        sa.CheckConstraint(f"email ~ '{EMAIL_PATTERN}'", name="ck_users_email_format"),
        sa.CheckConstraint("daily_xp_goal IN (10, 20, 30, 50)", name="ck_users_daily_xp_goal"),
        sa.CheckConstraint("length(btrim(name)) > 0", name="ck_users_name_not_blank"),
        sa.CheckConstraint("password_hash IS NULL OR password_hash LIKE '$2%'", name="ck_users_password_bcrypt"),
        schema=SCHEMA,
    )
    op.execute(f"CREATE UNIQUE INDEX uq_users_email_lower ON {SCHEMA}.users (lower(email))")
    op.create_index("ix_users_created_at", "users", ["created_at"], schema=SCHEMA)
    add_updated_at_trigger(SCHEMA, "users")

    op.create_table(
        "oauth_providers",
        sa.Column("id", UUID(as_uuid=True), primary_key=True, server_default=sa.text("gen_random_uuid()")),
        sa.Column(
            "user_id", UUID(as_uuid=True), sa.ForeignKey(f"{SCHEMA}.users.id", ondelete="CASCADE"), nullable=False
        ),
        sa.Column("provider", sa.String(50), nullable=False),
        sa.Column("provider_user_id", sa.String(255), nullable=False),
        sa.Column("access_token", sa.Text),
        sa.Column("refresh_token", sa.Text),
        sa.Column("token_expires_at", sa.TIMESTAMP(timezone=True)),
        *_timestamps(),
        sa.UniqueConstraint("provider", "provider_user_id", name="uq_oauth_providers_provider_user"),
        sa.UniqueConstraint("user_id", "provider", name="uq_oauth_providers_user_provider"),
        sa.CheckConstraint("provider IN ('google', 'tiktok')", name="ck_oauth_providers_provider"),
        schema=SCHEMA,
    )
    add_updated_at_trigger(SCHEMA, "oauth_providers")

    op.create_table(
        "user_roles",
        sa.Column(
            "user_id", UUID(as_uuid=True), sa.ForeignKey(f"{SCHEMA}.users.id", ondelete="CASCADE"), primary_key=True
        ),
        sa.Column("role", sa.String(50), primary_key=True),
        sa.Column("granted_by", UUID(as_uuid=True)),
        sa.Column("created_at", sa.TIMESTAMP(timezone=True), nullable=False, server_default=_now()),
        sa.CheckConstraint("role IN ('admin')", name="ck_user_roles_role"),
        schema=SCHEMA,
    )

    op.create_table(
        "refresh_tokens",
        sa.Column("id", UUID(as_uuid=True), primary_key=True, server_default=sa.text("gen_random_uuid()")),
        sa.Column(
            "user_id", UUID(as_uuid=True), sa.ForeignKey(f"{SCHEMA}.users.id", ondelete="CASCADE"), nullable=False
        ),
        sa.Column("family_id", UUID(as_uuid=True), nullable=False),
        sa.Column("token_hash", sa.String(64), nullable=False),
        sa.Column("expires_at", sa.TIMESTAMP(timezone=True), nullable=False),
        sa.Column("rotated_at", sa.TIMESTAMP(timezone=True)),
        sa.Column("revoked_at", sa.TIMESTAMP(timezone=True)),
        sa.Column("created_at", sa.TIMESTAMP(timezone=True), nullable=False, server_default=_now()),
        sa.UniqueConstraint("token_hash", name="uq_refresh_tokens_token_hash"),
        sa.CheckConstraint("expires_at > created_at", name="ck_refresh_tokens_expiry"),
        schema=SCHEMA,
    )
    op.create_index("ix_refresh_tokens_user_id", "refresh_tokens", ["user_id"], schema=SCHEMA)
    op.create_index("ix_refresh_tokens_family_id", "refresh_tokens", ["family_id"], schema=SCHEMA)

    op.create_table(
        "user_tokens",
        sa.Column("id", UUID(as_uuid=True), primary_key=True, server_default=sa.text("gen_random_uuid()")),
        sa.Column(
            "user_id", UUID(as_uuid=True), sa.ForeignKey(f"{SCHEMA}.users.id", ondelete="CASCADE"), nullable=False
        ),
        sa.Column("purpose", sa.String(30), nullable=False),
        sa.Column("token_hash", sa.String(64), nullable=False),
        sa.Column("expires_at", sa.TIMESTAMP(timezone=True), nullable=False),
        sa.Column("used_at", sa.TIMESTAMP(timezone=True)),
        sa.Column("created_at", sa.TIMESTAMP(timezone=True), nullable=False, server_default=_now()),
        sa.UniqueConstraint("token_hash", name="uq_user_tokens_token_hash"),
        sa.CheckConstraint("purpose IN ('email_verification', 'password_reset')", name="ck_user_tokens_purpose"),
        sa.CheckConstraint("expires_at > created_at", name="ck_user_tokens_expiry"),
        schema=SCHEMA,
    )
    op.create_index("ix_user_tokens_user_id_purpose", "user_tokens", ["user_id", "purpose"], schema=SCHEMA)

    op.create_table(
        "signing_keys",
        sa.Column("kid", sa.String(64), primary_key=True),
        sa.Column("algorithm", sa.String(10), nullable=False, server_default=sa.text("'EdDSA'")),
        sa.Column("public_jwk", JSONB, nullable=False),
        sa.Column("private_key_encrypted", sa.Text, nullable=False),
        sa.Column("created_at", sa.TIMESTAMP(timezone=True), nullable=False, server_default=_now()),
        sa.Column("retired_at", sa.TIMESTAMP(timezone=True)),
        sa.CheckConstraint("algorithm IN ('EdDSA', 'ES256')", name="ck_signing_keys_algorithm"),
        schema=SCHEMA,
    )
    # At most one active (not retired) key.
    op.execute(
        f"CREATE UNIQUE INDEX uq_signing_keys_one_active ON {SCHEMA}.signing_keys ((true)) WHERE retired_at IS NULL"
    )

    op.create_table(
        "login_throttles",
        sa.Column("key", sa.String(320), primary_key=True),
        sa.Column("failures", sa.Integer, nullable=False, server_default=sa.text("0")),
        sa.Column("window_started_at", sa.TIMESTAMP(timezone=True), nullable=False, server_default=_now()),
        sa.Column("locked_until", sa.TIMESTAMP(timezone=True)),
        sa.Column("updated_at", sa.TIMESTAMP(timezone=True), nullable=False, server_default=_now()),
        sa.CheckConstraint("failures >= 0", name="ck_login_throttles_failures"),
        schema=SCHEMA,
    )
    add_updated_at_trigger(SCHEMA, "login_throttles")

    op.create_table(
        "oauth_states",
        sa.Column("state_hash", sa.String(64), primary_key=True),
        sa.Column("provider", sa.String(50), nullable=False),
        sa.Column("nonce", sa.String(128)),
        sa.Column("code_verifier_encrypted", sa.Text, nullable=False),
        sa.Column("created_at", sa.TIMESTAMP(timezone=True), nullable=False, server_default=_now()),
        sa.Column("expires_at", sa.TIMESTAMP(timezone=True), nullable=False),
        schema=SCHEMA,
    )
    op.create_index("ix_oauth_states_expires_at", "oauth_states", ["expires_at"], schema=SCHEMA)


def downgrade() -> None:
    for table in (
        "oauth_states",
        "login_throttles",
        "signing_keys",
        "user_tokens",
        "refresh_tokens",
        "user_roles",
        "oauth_providers",
        "users",
    ):
        op.drop_table(table, schema=SCHEMA)
